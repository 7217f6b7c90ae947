using System.Buffers;
using ChatGateway.WebSockets.Connections;
using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Handshake;

namespace ChatGateway.WebSockets.Echo;

/// <summary>
/// Accepts every upgrade and sends each message back as it came (text as text, binary as binary).
/// The conformance target of the WebSocket layer, like Autobahn's echo server: the tests and the
/// framing benchmarks run against it. Stateless, so one session object serves every connection.
/// </summary>
public sealed class EchoApplication : IWebSocketApplication, IWebSocketSession
{
    public ValueTask<WebSocketAcceptDecision> AcceptAsync(WebSocketUpgradeRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(WebSocketAcceptDecision.Accept(this));

    public void OnOpened(WebSocketConnection connection)
    {
    }

    public async ValueTask OnMessageAsync(WebSocketConnection connection, WebSocketOpcode type, ReadOnlySequence<byte> payload) =>
        await connection.SendAsync(type, payload).ConfigureAwait(false);

    public void OnClosed(WebSocketConnection connection, ushort closeCode)
    {
    }
}
