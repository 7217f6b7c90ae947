using ChatGateway.WebSockets.Handshake;

namespace ChatGateway.WebSockets.Connections;

/// <summary>
/// What runs on top of the WebSocket layer. It sees each valid upgrade request before the 101 answer
/// and decides: accept with a session, or reject with an HTTP status (401 for a bad token, say).
/// </summary>
public interface IWebSocketApplication
{
    ValueTask<WebSocketAcceptDecision> AcceptAsync(WebSocketUpgradeRequest request, CancellationToken cancellationToken);
}

/// <summary>The application's answer to an upgrade request.</summary>
public readonly struct WebSocketAcceptDecision
{
    private WebSocketAcceptDecision(IWebSocketSession? session, HandshakeRejection? rejection)
    {
        Session = session;
        Rejection = rejection;
    }

    public IWebSocketSession? Session { get; }
    public HandshakeRejection? Rejection { get; }

    public static WebSocketAcceptDecision Accept(IWebSocketSession session) => new(session, null);
    public static WebSocketAcceptDecision Reject(HandshakeRejection rejection) => new(null, rejection);
}
