namespace ChatGateway.WebSockets.Handshake;

/// <summary>An HTTP error answer to an upgrade request; the connection is closed after it.</summary>
public sealed record HandshakeRejection(int StatusCode, string Message, IReadOnlyList<KeyValuePair<string, string>>? Headers = null)
{
    public static HandshakeRejection BadRequest(string message) => new(400, message);
}
