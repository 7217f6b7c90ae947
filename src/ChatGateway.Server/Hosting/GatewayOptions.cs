namespace ChatGateway.Server.Hosting;

/// <summary>
/// Top-level settings. They sit at the root of the configuration so that the operator's short forms
/// work: <c>--port 9000</c>, <c>CHAT_PORT=9000</c>, <c>--data /var/lib/chat</c>, <c>CHAT_DATA=...</c>.
/// </summary>
public sealed class GatewayOptions
{
    /// <summary>TCP port for WebSocket and HTTP alike; 0 picks a free one (tests).</summary>
    public int Port { get; set; } = 8080;

    /// <summary>Address to listen on: "0.0.0.0" (all IPv4), "::" (all), or one address such as "127.0.0.1".</summary>
    public string Address { get; set; } = "0.0.0.0";

    /// <summary>Folder for the node's durable state.</summary>
    public string Data { get; set; } = "data";

    /// <summary>
    /// The socket layer under Kestrel: <see cref="TransportKind.Direct"/> (ours: the application's reads and
    /// flushes are the socket's) or <see cref="TransportKind.Kestrel"/> (Kestrel's socket transport, with its
    /// in-memory pipes between the socket and the application).
    /// </summary>
    public TransportKind Transport { get; set; } = TransportKind.Direct;
}

/// <summary>Which socket transport Kestrel runs on (<see cref="GatewayOptions.Transport"/>).</summary>
public enum TransportKind
{
    Direct,
    Kestrel,
}
