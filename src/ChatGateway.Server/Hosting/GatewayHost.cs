using System.Net;
using ChatGateway.WebSockets;
using ChatGateway.WebSockets.Connections;
using ChatGateway.Server.Auth;
using ChatGateway.Server.Messaging;
using ChatGateway.Server.Sessions;
using ChatGateway.Storage;
using ChatGateway.WebSockets.Timeouts;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using ChatGateway.WebSockets.Transport;

namespace ChatGateway.Server.Hosting;

/// <summary>
/// Builds the gateway: configuration (appsettings.json, CHAT_-prefixed environment variables, command
/// line, in rising precedence), one Kestrel endpoint whose connection middleware takes WebSocket
/// upgrades, and the ordinary HTTP endpoints on the same port.
/// </summary>
public static class GatewayHost
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // appsettings.json ships beside the binary; relative paths such as Data stay relative to the
        // operator's working directory.
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddEnvironmentVariables("CHAT_");
        builder.Configuration.AddCommandLine(args); // again, so the command line beats CHAT_ variables

        // Kestrel opens a logging scope per connection (its id). Captured, it keeps a scope object, an execution
        // context and an async-local map alive for the connection's life: ~150 B, against ~3 KB for the rest of an
        // idle connection. The console log does not print scopes unless its IncludeScopes is set; set
        // Logging:CaptureScopes too then.
        bool captureScopes = builder.Configuration.GetValue("Logging:CaptureScopes", false);
        builder.Services.Configure<LoggerFilterOptions>(filters => filters.CaptureScopes = captureScopes);

        GatewayOptions gateway = builder.Configuration.Get<GatewayOptions>() ?? new GatewayOptions();
        WebSocketServerOptions webSockets = builder.Configuration.GetSection("WebSockets").Get<WebSocketServerOptions>() ?? new WebSocketServerOptions();
        webSockets.Validate();
        Directory.CreateDirectory(gateway.Data);

        builder.Services.AddSingleton(gateway);
        builder.Services.AddSingleton(webSockets);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new ConnectionSweeper(sp.GetRequiredService<TimeProvider>(), webSockets.TimeoutResolution));
        ChatOptions chat = builder.Configuration.GetSection("Chat").Get<ChatOptions>() ?? new ChatOptions();
        chat.Validate();
        if (webSockets.IdleTimeout < 2 * chat.HeartbeatInterval)
        {
            // A session is closed after this much silence: it must span several heartbeats, or a live client
            // whose heartbeat is a little late would be dropped.
            throw new InvalidOperationException(
                $"WebSockets:IdleTimeout ({webSockets.IdleTimeout}) must be at least twice Chat:HeartbeatInterval ({chat.HeartbeatInterval})");
        }
        AuthOptions auth = ReadAuthOptions(builder.Configuration);
        builder.Services.AddSingleton(chat);
        ChatGateway.Server.Presence.PresenceOptions presence = builder.Configuration.GetSection("Presence").Get<ChatGateway.Server.Presence.PresenceOptions>()
                                                                ?? new ChatGateway.Server.Presence.PresenceOptions();
        presence.Validate();
        builder.Services.AddSingleton(presence);
        builder.Services.AddSingleton(auth);
        builder.Services.AddSingleton(sp => JwtSecret.Resolve(auth.JwtSecret, gateway.Data));
        builder.Services.AddSingleton<TokenService>();
        IConfiguration storageSection = builder.Configuration.GetSection("Storage");
        builder.Services.AddSingleton<Func<StoreOptions>>(() => storageSection.Get<StoreOptions>() ?? new StoreOptions());
        builder.Services.AddSingleton<ChatNode>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ChatNode>());
        builder.Services.AddSingleton<IWebSocketApplication, ChatApplication>();
        builder.Services.AddSingleton(sp => new WebSocketUpgradeMiddleware(
            sp.GetRequiredService<IWebSocketApplication>(),
            webSockets,
            sp.GetRequiredService<ConnectionSweeper>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("ChatGateway.WebSockets")));

        // A frame is parsed only once it is whole in the input, so either transport must hold the largest frame.
        int maxReadBufferBytes = webSockets.TransportInputBufferSize;
        if (gateway.Transport == TransportKind.Direct)
        {
            DirectSocketTransportFactory.ReplaceKestrelTransport(builder.Services, maxReadBufferBytes);
        }
        else
        {
            // Kestrel's transport stops reading from the socket when its pipe holds this much.
            builder.WebHost.UseSockets(sockets => sockets.MaxReadBufferSize = maxReadBufferBytes);
        }
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Parse(gateway.Address), gateway.Port, listen =>
            {
                WebSocketUpgradeMiddleware middleware = listen.ApplicationServices.GetRequiredService<WebSocketUpgradeMiddleware>();
                listen.Use(next => context => middleware.OnConnectionAsync(context, next));
            });
        });

        configure?.Invoke(builder);

        WebApplication app = builder.Build();
        OpsEndpoints.Map(app, builder.Configuration.GetValue("Ops:AllowForcedGc", false));
        app.Lifetime.ApplicationStarted.Register(() => LogListening(app, gateway, webSockets));
        app.Lifetime.ApplicationStopping.Register(() => app.Services.GetRequiredService<ChatNode>().BeginShutdown());
        app.Services.GetRequiredService<JwtSecret>().LogMode(app.Logger);
        return app;
    }

    /// <summary>Section "Auth", with the secret also taken from CHAT_JWT_SECRET (which the CHAT_ prefix maps to the key JWT_SECRET).</summary>
    public static AuthOptions ReadAuthOptions(IConfiguration configuration)
    {
        AuthOptions auth = configuration.GetSection("Auth").Get<AuthOptions>() ?? new AuthOptions();
        if (string.IsNullOrEmpty(auth.JwtSecret) && configuration["JWT_SECRET"] is { Length: > 0 } fromEnvironment)
        {
            auth.JwtSecret = fromEnvironment;
        }
        return auth;
    }

    /// <summary>The address Kestrel actually bound (the real port when 0 was asked for).</summary>
    public static Uri ListeningAddress(WebApplication app)
    {
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.Replace("0.0.0.0", "127.0.0.1").Replace("[::]", "[::1]"));
    }

    private static void LogListening(WebApplication app, GatewayOptions gateway, WebSocketServerOptions webSockets)
    {
        Uri address = ListeningAddress(app);
        app.Logger.LogInformation("ChatGateway listening on {Address}:{Port} (WebSocket ws://{Host}:{Port}{Path}, health {Health}healthz, {Transport} transport), data in {Data}",
            gateway.Address, address.Port, address.Host, address.Port, webSockets.Path, address, gateway.Transport, Path.GetFullPath(gateway.Data));
    }
}
