using ChatGateway.Server.Hosting;

WebApplication app = GatewayHost.Build(args);
await app.RunAsync();
