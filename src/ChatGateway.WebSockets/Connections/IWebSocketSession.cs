using System.Buffers;
using ChatGateway.WebSockets.Framing;

namespace ChatGateway.WebSockets.Connections;

/// <summary>
/// The application's side of one open WebSocket. Callbacks for one connection never overlap: the
/// connection's read loop calls them one at a time, in order.
/// </summary>
public interface IWebSocketSession
{
    /// <summary>The upgrade answer has been sent; the connection can be written to from now on.</summary>
    void OnOpened(WebSocketConnection connection);

    /// <summary>
    /// A whole message (Text or Binary). <paramref name="payload"/> is valid only until the returned task
    /// completes: copy what must outlive it. Text payloads are already validated as UTF-8. The next frame
    /// is not read before the task completes, which is how a slow application pushes back on a client.
    /// </summary>
    ValueTask OnMessageAsync(WebSocketConnection connection, WebSocketOpcode type, ReadOnlySequence<byte> payload);

    /// <summary>
    /// The connection is over. <paramref name="closeCode"/> is the code the close handshake settled on,
    /// the code this side failed the connection with, or 1006 when TCP ended without a close frame.
    /// </summary>
    void OnClosed(WebSocketConnection connection, ushort closeCode);
}
