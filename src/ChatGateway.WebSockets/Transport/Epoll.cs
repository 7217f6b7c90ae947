using System.Runtime.InteropServices;

namespace ChatGateway.WebSockets.Transport;

/// <summary>The Linux epoll calls <see cref="ReadinessPoller"/> makes, as libc declares them.</summary>
internal static unsafe partial class Epoll
{
    public const int CtlAdd = 1;
    public const int CtlDel = 2;

    public const uint In = 0x001;
    public const uint Err = 0x008;
    public const uint Hup = 0x010;
    public const uint RdHup = 0x2000;
    public const uint EdgeTriggered = 1u << 31;

    public const int CloseOnExec = 0x80000; // EPOLL_CLOEXEC

    /// <summary>
    /// <c>struct epoll_event</c>. On x86-64 the kernel declares it packed (12 bytes: the 64-bit data right after
    /// the 32-bit mask); other architectures align the data to 8 (16 bytes). <see cref="Supported"/> says which
    /// this layout matches.
    /// </summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct Event
    {
        public uint Events;
        public ulong Data;
    }

    /// <summary>Linux on x86-64, where <see cref="Event"/> has the kernel's layout.</summary>
    public static bool Supported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int Create(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int Control(int epoll, int operation, int fd, Event* @event);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int Wait(int epoll, Event* events, int maxEvents, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
}
