using System.Net;
using ChatGateway.WebSockets;
using ChatGateway.WebSockets.Connections;
using ChatGateway.WebSockets.Echo;
using ChatGateway.WebSockets.Timeouts;
using ChatGateway.WebSockets.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatGateway.WebSockets.Tests.Infrastructure;

/// <summary>
/// Real Kestrel on 127.0.0.1:0 with the WebSocket middleware in front of an ordinary HTTP pipeline
/// (GET /hello answers "hello"), serving the <see cref="EchoApplication"/> unless told otherwise. It listens
/// through the gateway's default transport (<see cref="DirectSocketTransportFactory"/>), or through Kestrel's
/// socket transport when <c>kestrelTransport</c> is set.
/// </summary>
public sealed class EchoServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConnectionSweeper _sweeper;

    private EchoServer(WebApplication app, ConnectionSweeper sweeper, int port)
    {
        _app = app;
        _sweeper = sweeper;
        Port = port;
    }

    public int Port { get; }
    public Uri WebSocketUri => new($"ws://127.0.0.1:{Port}/ws");
    public Uri HttpUri => new($"http://127.0.0.1:{Port}/");

    /// <summary>The type name of the one transport Kestrel listens through.</summary>
    public string TransportName => _app.Services.GetServices<IConnectionListenerFactory>().Single().GetType().Name;

    /// <summary>Connections currently tracked for timeouts (handshakes in progress and open WebSockets).</summary>
    public int TrackedConnections => _sweeper.Count;

    public static async Task<EchoServer> StartAsync(Action<WebSocketServerOptions>? configure = null, IWebSocketApplication? application = null,
        bool kestrelTransport = false)
    {
        var options = new WebSocketServerOptions
        {
            MaxMessageSize = 1024 * 1024,
            TimeoutResolution = TimeSpan.FromMilliseconds(50),
        };
        configure?.Invoke(options);

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var sweeper = new ConnectionSweeper(TimeProvider.System, options.TimeoutResolution);
        var middleware = new WebSocketUpgradeMiddleware(application ?? new EchoApplication(), options, sweeper,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        if (kestrelTransport)
        {
            builder.WebHost.UseSockets(s => s.MaxReadBufferSize = options.TransportInputBufferSize);
        }
        else
        {
            DirectSocketTransportFactory.ReplaceKestrelTransport(builder.Services, options.TransportInputBufferSize);
        }
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
            listen.Use(next => context => middleware.OnConnectionAsync(context, next))));

        WebApplication app = builder.Build();
        app.MapGet("/hello", () => Results.Text("hello"));
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new EchoServer(app, sweeper, new Uri(address).Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _sweeper.DisposeAsync();
    }
}
