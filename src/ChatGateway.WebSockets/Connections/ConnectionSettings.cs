using ChatGateway.WebSockets.Timeouts;
using Microsoft.Extensions.Logging;

namespace ChatGateway.WebSockets.Connections;

/// <summary>
/// What every connection of one middleware shares: the options, converted once to <see cref="TimeProvider"/>
/// timestamp units, the timeout sweeper and the logger. Each connection carries one reference to this instead of a
/// copy or a reference each (every field of an idle connection is paid tens of thousands of times).
/// </summary>
internal sealed class ConnectionSettings
{
    public ConnectionSettings(WebSocketServerOptions options, ConnectionSweeper sweeper, ILogger logger)
    {
        Options = options;
        Sweeper = sweeper;
        Logger = logger;
        Time = sweeper.Time;
        HandshakeTicks = ToTicks(options.HandshakeTimeout);
        IdleTicks = ToTicks(options.IdleTimeout);
        KeepAliveTicks = options.KeepAliveInterval > TimeSpan.Zero ? ToTicks(options.KeepAliveInterval) : 0;
        CloseTicks = ToTicks(options.CloseTimeout);
    }

    public WebSocketServerOptions Options { get; }
    public ConnectionSweeper Sweeper { get; }
    public ILogger Logger { get; }
    public TimeProvider Time { get; }
    public long HandshakeTicks { get; }
    public long IdleTicks { get; }
    /// <summary>0 when server pings are off.</summary>
    public long KeepAliveTicks { get; }
    public long CloseTicks { get; }

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Time.TimestampFrequency);
}
