using System.Net.Sockets;

namespace ChatGateway.WebSockets.Transport;

/// <summary>Linux errno values of the transport's system calls: an interrupted call, and a stream socket's receive or send errors as the runtime reports them.</summary>
internal static class Errno
{
    public const int Interrupted = 4; // EINTR
    public const int InvalidArgument = 22; // EINVAL: accept on a socket that no longer listens (closed under the call)

    public static SocketError ToSocketError(int errno) => errno switch
    {
        11 => SocketError.WouldBlock, // EAGAIN, EWOULDBLOCK
        104 => SocketError.ConnectionReset, // ECONNRESET
        32 => SocketError.Shutdown, // EPIPE: our side was shut down
        103 => SocketError.ConnectionAborted, // ECONNABORTED
        107 => SocketError.NotConnected, // ENOTCONN
        110 => SocketError.TimedOut, // ETIMEDOUT
        113 => SocketError.HostUnreachable, // EHOSTUNREACH
        101 => SocketError.NetworkUnreachable, // ENETUNREACH
        100 => SocketError.NetworkDown, // ENETDOWN
        105 or 12 => SocketError.NoBufferSpaceAvailable, // ENOBUFS, ENOMEM
        9 => SocketError.OperationAborted, // EBADF: closed under us
        _ => SocketError.SocketError,
    };
}
