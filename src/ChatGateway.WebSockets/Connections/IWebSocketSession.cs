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
    /// One read's input is about to be handled: the messages it completes follow (<see cref="OnMessageAsync"/>), then
    /// <see cref="OnInputHandled"/>, on this same thread. For work a session can do once per read instead of once
    /// per message.
    /// </summary>
    void OnInputStarting()
    {
    }

    /// <summary>
    /// The read announced by <see cref="OnInputStarting"/> has been handled as far as it could be without waiting:
    /// every message in it was handed over, or one of them is still being awaited (what follows then runs on another
    /// thread, outside this bracket). Called on the thread that called <see cref="OnInputStarting"/>, also when
    /// handling threw.
    /// </summary>
    void OnInputHandled()
    {
    }

    /// <summary>
    /// The connection is over. <paramref name="closeCode"/> is the code the close handshake settled on,
    /// the code this side failed the connection with, or 1006 when TCP ended without a close frame.
    /// </summary>
    void OnClosed(WebSocketConnection connection, ushort closeCode);
}
