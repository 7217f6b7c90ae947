using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// Receives and sends that never wait, whatever the socket's mode: <c>recv</c>/<c>send</c> with
/// <c>MSG_DONTWAIT</c> where the platform has it (Linux), <see cref="Socket.Blocking"/> = false and the socket's
/// own calls elsewhere.
/// <para>
/// Why not always the latter: setting <see cref="Socket.Blocking"/> makes the runtime create the socket's
/// <c>SocketAsyncContext</c> (~150 B) at once, and it lives as long as the connection. With the flag on each call,
/// an idle connection has none; only a send that has to wait (a slow reader, <see cref="SocketSender"/>) creates it.
/// </para>
/// The descriptor is passed as the <see cref="SafeSocketHandle"/>, so a call racing the socket's disposal fails
/// with <see cref="ObjectDisposedException"/> (as the socket's own calls do) instead of reaching a reused descriptor.
/// </summary>
internal static partial class NonBlockingSocket
{
    private const int DontWait = 0x40; // MSG_DONTWAIT
    private const int NoSignal = 0x4000; // MSG_NOSIGNAL: a reset peer is an error, not SIGPIPE

    /// <summary>Linux on x86-64 or ARM64, where the flags above have these values.</summary>
    private static readonly bool s_flags = OperatingSystem.IsLinux()
        && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>Prepares an accepted socket: nothing to do where each call carries the flag.</summary>
    public static void Prepare(Socket socket)
    {
        if (!s_flags)
        {
            socket.Blocking = false;
        }
    }

    /// <summary>Bytes received (0: the peer finished sending), or the error (<see cref="SocketError.WouldBlock"/>: nothing there now).</summary>
    public static unsafe int Receive(Socket socket, Span<byte> buffer, out SocketError error)
    {
        if (!s_flags)
        {
            return socket.Receive(buffer, SocketFlags.None, out error);
        }
        fixed (byte* bytes = buffer)
        {
            return Transfer(&Recv, socket, bytes, buffer.Length, DontWait, out error);
        }
    }

    /// <summary>Bytes the socket took (possibly fewer than given), or the error (<see cref="SocketError.WouldBlock"/>: its send buffer is full).</summary>
    public static unsafe int Send(Socket socket, ReadOnlySpan<byte> buffer, out SocketError error)
    {
        if (!s_flags)
        {
            return socket.Send(buffer, SocketFlags.None, out error);
        }
        fixed (byte* bytes = buffer)
        {
            return Transfer(&SendNative, socket, bytes, buffer.Length, DontWait | NoSignal, out error);
        }
    }

    /// <summary>One <c>recv</c> or <c>send</c>, retried when a signal interrupted it.</summary>
    private static unsafe int Transfer(delegate*<SafeSocketHandle, byte*, nint, int, nint> call, Socket socket, byte* bytes, int length, int flags,
        out SocketError error)
    {
        while (true)
        {
            nint transferred = call(socket.SafeHandle, bytes, length, flags);
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
}
