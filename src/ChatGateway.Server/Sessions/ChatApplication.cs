using ChatGateway.Server.Auth;
using ChatGateway.Server.Messaging;
using ChatGateway.WebSockets.Connections;
using ChatGateway.WebSockets.Handshake;

namespace ChatGateway.Server.Sessions;

/// <summary>
/// Decides each WebSocket upgrade: the access token (query <c>access_token</c> or <c>Authorization: Bearer</c>)
/// must be valid, else HTTP 401 before any upgrade; while the node shuts down, 503.
/// </summary>
public sealed class ChatApplication(ChatNode node) : IWebSocketApplication
{
    public async ValueTask<WebSocketAcceptDecision> AcceptAsync(WebSocketUpgradeRequest request, CancellationToken cancellationToken)
    {
        if (node.IsStopping)
        {
            return WebSocketAcceptDecision.Reject(new HandshakeRejection(503, "the server is shutting down; reconnect to another node or retry"));
        }
        string? token = request.GetQueryParameter("access_token");
        if (string.IsNullOrEmpty(token) && request.GetHeader("Authorization") is { } authorization
            && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = authorization["Bearer ".Length..].Trim();
        }
        (AuthenticatedUser? user, string? error) = await node.Tokens.ValidateAsync(token).ConfigureAwait(false);
        if (user is not { } valid)
        {
            return WebSocketAcceptDecision.Reject(new HandshakeRejection(401, error!,
                [new KeyValuePair<string, string>("WWW-Authenticate", "Bearer")]));
        }
        return WebSocketAcceptDecision.Accept(new ChatSession(node, valid));
    }
}
