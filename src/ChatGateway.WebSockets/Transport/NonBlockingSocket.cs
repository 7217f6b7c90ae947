using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// The socket calls the transport makes on a bare descriptor where the platform allows (<see cref="Supported"/>:
/// Linux): accepts, receives and sends that never wait (<c>MSG_DONTWAIT</c>), no-delay and shutdown. Elsewhere the
/// transport uses <see cref="Socket"/>'s own calls (<see cref="Prepare"/>).
/// <para>
/// Why bare descriptors: a <see cref="Socket"/> from <c>Socket.Accept</c> costs 184 B per connection (the socket 112
/// and the peer's endpoint 72, made by the accept whether anyone asks for it or not); an accepted connection needs
/// only its <see cref="SafeSocketHandle"/> (64 B). Setting <see cref="Socket.Blocking"/> would also make the runtime
/// create the socket's <c>SocketAsyncContext</c> (~150 B) at once. A <see cref="Socket"/> is made for a connection
/// only when something needs one (<see cref="DirectSocketConnection.Socket"/>: a send that has to wait, an endpoint).
/// </para>
/// The descriptor is passed as the <see cref="SafeSocketHandle"/>, so a call racing its disposal fails with
/// <see cref="ObjectDisposedException"/> (as the socket's own calls do) instead of reaching a reused descriptor.
/// </summary>
internal static partial class NonBlockingSocket
{
    private const int DontWait = 0x40; // MSG_DONTWAIT
    private const int NoSignal = 0x4000; // MSG_NOSIGNAL: a reset peer is an error, not SIGPIPE
    private const int AcceptCloseOnExec = 0x80000; // SOCK_CLOEXEC for accept4
    private const int TcpLevel = 6; // IPPROTO_TCP
    private const int TcpNoDelay = 1; // TCP_NODELAY
    private const int ShutdownBoth = 2; // SHUT_RDWR

    /// <summary>Linux on x86-64 or ARM64, where the flags and options above have these values.</summary>
    public static bool Supported { get; } = OperatingSystem.IsLinux()
        && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>Prepares a socket accepted through <see cref="Socket"/> where the calls here are not supported.</summary>
    public static void Prepare(Socket socket)
    {
        if (!Supported)
        {
            socket.Blocking = false;
        }
    }

    /// <summary>
    /// Waits for the next connection on <paramref name="listener"/> (a blocking listening socket): its descriptor, or
    /// null with the error (<see cref="SocketError.OperationAborted"/> once the listener is closed).
    /// </summary>
    public static unsafe SafeSocketHandle? Accept(SafeSocketHandle listener, out SocketError error)
    {
        while (true)
        {
            int fd = Accept4(listener, null, null, AcceptCloseOnExec);
            if (fd >= 0)
            {
                error = SocketError.Success;
                return new SafeSocketHandle(fd, ownsHandle: true);
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.Interrupted)
            {
                error = errno == Errno.InvalidArgument ? SocketError.OperationAborted : Errno.ToSocketError(errno);
                return null;
            }
        }
    }

    /// <summary>Turns Nagle's algorithm off: frames are flushed whole, and Nagle would hold a small ack back for the previous one's ACK.</summary>
    public static unsafe SocketError SetNoDelay(SafeSocketHandle socket)
    {
        int on = 1;
        return SetSockOpt(socket, TcpLevel, TcpNoDelay, &on, sizeof(int)) == 0
            ? SocketError.Success
            : Errno.ToSocketError(Marshal.GetLastPInvokeError());
    }

    /// <summary>Shuts both directions; a socket already reset or not connected any more is left as it is.</summary>
    public static void Shutdown(SafeSocketHandle socket) => ShutdownNative(socket, ShutdownBoth);

    /// <summary>Bytes received (0: the peer finished sending), or the error (<see cref="SocketError.WouldBlock"/>: nothing there now).</summary>
    public static unsafe int Receive(SafeSocketHandle socket, Span<byte> buffer, out SocketError error)
    {
        fixed (byte* bytes = buffer)
        {
            return Transfer(&Recv, socket, bytes, buffer.Length, DontWait, out error);
        }
    }

    /// <summary>Bytes the socket took (possibly fewer than given), or the error (<see cref="SocketError.WouldBlock"/>: its send buffer is full).</summary>
    public static unsafe int Send(SafeSocketHandle socket, ReadOnlySpan<byte> buffer, out SocketError error)
    {
        fixed (byte* bytes = buffer)
        {
            return Transfer(&SendNative, socket, bytes, buffer.Length, DontWait | NoSignal, out error);
        }
    }

    /// <summary>One <c>recv</c> or <c>send</c>, retried when a signal interrupted it.</summary>
    private static unsafe int Transfer(delegate*<SafeSocketHandle, byte*, nint, int, nint> call, SafeSocketHandle socket, byte* bytes, int length, int flags,
        out SocketError error)
    {
        while (true)
        {
            nint transferred = call(socket, bytes, length, flags);
            if (transferred >= 0)
            {
                error = SocketError.Success;
                return (int)transferred;
            }
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.Interrupted)
            {
                error = Errno.ToSocketError(errno);
                return 0;
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint Recv(SafeSocketHandle socket, byte* buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static unsafe partial nint SendNative(SafeSocketHandle socket, byte* buffer, nint length, int flags);

    [LibraryImport("libc", EntryPoint = "accept4", SetLastError = true)]
    private static unsafe partial int Accept4(SafeSocketHandle socket, void* address, int* addressLength, int flags);

    [LibraryImport("libc", EntryPoint = "setsockopt", SetLastError = true)]
    private static unsafe partial int SetSockOpt(SafeSocketHandle socket, int level, int option, void* value, int length);

    [LibraryImport("libc", EntryPoint = "shutdown", SetLastError = true)]
    private static partial int ShutdownNative(SafeSocketHandle socket, int how);
}
