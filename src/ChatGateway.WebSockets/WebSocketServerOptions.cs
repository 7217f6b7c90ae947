namespace ChatGateway.WebSockets;

/// <summary>
/// Settings of the WebSocket layer, bound from the configuration section "WebSockets"
/// (for example <c>CHAT_WebSockets__MaxMessageSize</c>). Defaults serve a chat node on a laptop.
/// </summary>
public sealed class WebSocketServerOptions
{
    /// <summary>Request path that is upgraded to a WebSocket; every other request goes to HTTP.</summary>
    public string Path { get; set; } = "/ws";

    /// <summary>
    /// Largest message accepted, summed over its fragments; larger ones close the connection with 1009
    /// as soon as a frame header declares it. A single frame is buffered whole in the transport's input
    /// pipe, so the host must let the pipe hold at least this much (see <see cref="RequiredInputBufferSize"/>).
    /// </summary>
    public int MaxMessageSize { get; set; } = 64 * 1024;

    /// <summary>Largest HTTP request head (request line and headers) of an upgrade; larger gets 431.</summary>
    public int MaxRequestHeadSize { get; set; } = 8 * 1024;

    /// <summary>Time from accept until the whole upgrade request must have arrived.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A connection from which nothing arrives (no frame, no pong) for this long is closed with 1001.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// The server pings a connection that has been silent this long, so a live client that has nothing to
    /// say answers with a pong before <see cref="IdleTimeout"/>. Zero disables server pings.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>After the server sends a close frame, how long it waits for the client's before dropping TCP.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often deadlines are checked; timeouts are accurate to this.</summary>
    public TimeSpan TimeoutResolution { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Origins allowed to upgrade (exact, case-insensitive match of the Origin header, e.g. "https://chat.example").
    /// Empty: any origin. A request without an Origin header (a non-browser client) is always allowed.
    /// </summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>Subprotocols the server speaks; the first one the client offers (in its order) is chosen.</summary>
    public List<string> Subprotocols { get; set; } = [];

    /// <summary>
    /// With the direct transport's poller (Linux), the input of a WebSocket that arrived with little other input (at
    /// most <c>4</c> connections reported by one wait) is handled on the poller's thread itself, up to the session's
    /// first wait, rather than handed to the thread pool. At a moderate rate most arrivals come so, and each hand-off
    /// woke a pool thread and parked it again: at 20,000 msgs/s, with the chat server's writer run on the same
    /// thread, about 6 of 7 context switches per message and a third of the server's CPU (docs/benchmarks.md).
    /// Input of more connections at once goes to the pool as before, so a busy node keeps every core. While the
    /// poller handles one connection it reads no other: a session must not block there
    /// (<see cref="Connections.WebSocketConnection.IsOnPollerThread"/>). False hands every arrival to the pool.
    /// </summary>
    public bool HandleInputOnPoller { get; set; } = true;

    /// <summary>Smallest transport input buffer that lets the largest allowed frame arrive whole.</summary>
    public long RequiredInputBufferSize => MaxMessageSize + 14L + MaxRequestHeadSize;

    /// <summary>The input bound a host gives its transport: <see cref="RequiredInputBufferSize"/>, at least 1 MiB.</summary>
    public int TransportInputBufferSize => (int)Math.Min(int.MaxValue, Math.Max(1024 * 1024, RequiredInputBufferSize));

    public void Validate()
    {
        if (MaxMessageSize < 125)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMessageSize), MaxMessageSize, "must be at least 125 bytes");
        }
        if (MaxRequestHeadSize < 256)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRequestHeadSize), MaxRequestHeadSize, "must be at least 256 bytes");
        }
        if (!Path.StartsWith('/'))
        {
            throw new ArgumentException($"WebSockets:Path must start with '/', got '{Path}'");
        }
        foreach (TimeSpan t in new[] { HandshakeTimeout, IdleTimeout, CloseTimeout, TimeoutResolution })
        {
            if (t <= TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(TimeoutResolution), t, "timeouts must be positive");
            }
        }
    }
}
