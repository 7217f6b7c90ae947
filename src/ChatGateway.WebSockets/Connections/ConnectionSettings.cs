namespace ChatGateway.WebSockets.Connections;

/// <summary>
/// The options every connection needs, converted once to <see cref="TimeProvider"/> timestamp units and
/// shared by all connections, so each connection carries one reference instead of a copy.
/// </summary>
internal sealed class ConnectionSettings
{
    public ConnectionSettings(WebSocketServerOptions options, TimeProvider time)
    {
        Options = options;
        Time = time;
        HandshakeTicks = ToTicks(options.HandshakeTimeout);
        IdleTicks = ToTicks(options.IdleTimeout);
        KeepAliveTicks = options.KeepAliveInterval > TimeSpan.Zero ? ToTicks(options.KeepAliveInterval) : 0;
        CloseTicks = ToTicks(options.CloseTimeout);
    }

    public WebSocketServerOptions Options { get; }
    public TimeProvider Time { get; }
    public long HandshakeTicks { get; }
    public long IdleTicks { get; }
    /// <summary>0 when server pings are off.</summary>
    public long KeepAliveTicks { get; }
    public long CloseTicks { get; }

    private long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * Time.TimestampFrequency);
}
