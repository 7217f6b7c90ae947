namespace ChatGateway.Client;

/// <summary>The server answered a request with an Error (<see cref="Code"/> is one of <see cref="Protocol.ErrorCode"/>).</summary>
public sealed class ChatException(string code, string message) : Exception($"{code}: {message}")
{
    public string Code { get; } = code;
}

/// <summary>The connection ended before the answer came. Sends are retried by the client itself; other requests may be retried by the caller.</summary>
public sealed class ConnectionLostException(string message) : Exception(message);
