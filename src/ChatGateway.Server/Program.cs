using ChatGateway.Server.Hosting;

if (args.Length > 0 && args[0] == "token")
{
    return TokenCommand.Run(args);
}

WebApplication app = GatewayHost.Build(args);
await app.RunAsync();
return 0;
