using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// A failed receive or send as the exception the layers above expect from a transport (what Kestrel's socket
/// transport throws): <see cref="ConnectionResetException"/> when the connection is gone, an
/// <see cref="IOException"/> otherwise; both carry the <see cref="SocketException"/>.
/// </summary>
internal static class SocketErrors
{
    public static IOException ToException(SocketError error)
    {
        var cause = new SocketException((int)error);
        return error is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted
            ? new ConnectionResetException(cause.Message, cause)
            : new IOException(cause.Message, cause);
    }
}
