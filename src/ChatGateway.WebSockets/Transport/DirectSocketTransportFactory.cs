using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// A Kestrel transport of TCP sockets whose pipes read and
/// write the socket directly (<see cref="DirectSocketConnection"/>). IP endpoints only (the gateway listens on
/// one address and port).
/// </summary>
public sealed class DirectSocketTransportFactory(ILoggerFactory loggers, int maxReadBufferBytes) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly ILogger _logger = loggers.CreateLogger("ChatGateway.WebSockets.Transport");

    /// <summary>Makes Kestrel listen through this transport instead of its own socket transport.</summary>
    /// <param name="maxReadBufferBytes">
    /// The most unconsumed input one connection may hold: at least the largest frame
    /// (<see cref="WebSocketServerOptions.RequiredInputBufferSize"/>); a connection needing more fails.
    /// </param>
    public static void ReplaceKestrelTransport(IServiceCollection services, int maxReadBufferBytes)
    {
        services.RemoveAll<IConnectionListenerFactory>();
        services.AddSingleton<IConnectionListenerFactory>(sp => new DirectSocketTransportFactory(sp.GetRequiredService<ILoggerFactory>(), maxReadBufferBytes));
    }

    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        if (endpoint is not IPEndPoint ip)
        {
            throw new NotSupportedException($"the direct socket transport listens on IP endpoints only, not {endpoint.GetType().Name}");
        }
        return ValueTask.FromResult<IConnectionListener>(DirectSocketListener.Bind(ip, maxReadBufferBytes, _logger));
    }
}
