using System.Runtime.InteropServices;

namespace ChatGateway.Storage.Disk;

/// <summary>
/// Files opened with O_DIRECT | O_DSYNC (Linux): a write returns once its bytes are on the disk, and no byte
/// passes through the page cache. Buffers, offsets and lengths must be multiples of 512 bytes. Used by the
/// segments of the journal and the index (<see cref="SegmentDevice"/>) and the journal's commit metadata
/// (<see cref="Journal.CommitMetadataFile"/>).
/// <para>
/// Never mix these files with buffered I/O: a buffered write read-modify-writes whole 4 KiB pages, and a page
/// cached before a later O_DIRECT write holds stale bytes that its write-back puts back over newer data.
/// </para>
/// </summary>
internal static unsafe partial class DirectFile
{
    public static bool IsSupported => OperatingSystem.IsLinux()
        && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    /// <summary>Opens (creating) <paramref name="path"/>; filesystems without O_DIRECT (tmpfs before Linux 6.6) get O_DSYNC alone.</summary>
    /// <param name="path">The file.</param>
    /// <param name="syncEachWrite">
    /// O_DSYNC: each write is durable when it returns. Without it the caller makes the file durable with
    /// <see cref="SyncFile"/> once it is complete.
    /// </param>
    public static int Open(string path, bool syncEachWrite = true)
    {
        int sync = syncEachWrite ? Native.O_DSYNC : 0;
        int fd = Native.open(path, Native.O_RDWR | Native.O_CREAT | Native.O_CLOEXEC | sync | Native.ODirect, 0x1A4 /* 0644 */);
        if (fd < 0 && Marshal.GetLastPInvokeError() == Native.EINVAL)
        {
            fd = Native.open(path, Native.O_RDWR | Native.O_CREAT | Native.O_CLOEXEC | sync, 0x1A4);
        }
        if (fd < 0)
        {
            throw LastError("open", path);
        }
        return fd;
    }

    public static void Close(int fd) => Native.close(fd);

    /// <summary>Makes a file's data, or a directory's entries, durable (fsync); throws <see cref="IOException"/> with the errno.</summary>
    public static void SyncFile(string path)
    {
        int fd = Native.open(path, Native.O_RDONLY | Native.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw LastError("open", path);
        }
        try
        {
            if (Native.fsync(fd) != 0)
            {
                throw LastError("sync", path);
            }
        }
        finally
        {
            Native.close(fd);
        }
    }

    /// <summary>The errno of the call that just failed, as an <see cref="IOException"/> naming what failed on which file.</summary>
    private static IOException LastError(string what, string path)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"cannot {what} {path}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
    }

    public static long Length(int fd) => Native.lseek(fd, 0, Native.SEEK_END);

    /// <summary>Writes all of <paramref name="length"/> bytes; returns the errno of a failure (0: done) and what was written.</summary>
    public static (uint Error, uint Done) WriteAll(int fd, ulong offset, byte* buffer, uint length)
    {
        uint done = 0;
        while (done < length)
        {
            nint written = Native.pwrite(fd, buffer + done, length - done, (long)(offset + done));
            if (written < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Native.EINTR || (errno == Native.EINVAL && DropDirect(fd)))
                {
                    continue;
                }
                return ((uint)errno, done);
            }
            done += (uint)written;
        }
        return (0, done);
    }

    /// <summary>Reads <paramref name="length"/> bytes; past the end of the file (or with no file, fd &lt; 0) the buffer is zeroed.</summary>
    public static (uint Error, uint Done) ReadAll(int fd, ulong offset, byte* buffer, uint length)
    {
        if (fd < 0)
        {
            new Span<byte>(buffer, (int)length).Clear();
            return (0, length);
        }
        uint done = 0;
        while (done < length)
        {
            nint read = Native.pread(fd, buffer + done, length - done, (long)(offset + done));
            if (read < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Native.EINTR || (errno == Native.EINVAL && DropDirect(fd)))
                {
                    continue;
                }
                return ((uint)errno, done);
            }
            if (read == 0)
            {
                new Span<byte>(buffer + done, (int)(length - done)).Clear();
                return (0, length);
            }
            done += (uint)read;
        }
        return (0, done);
    }

    /// <summary>
    /// A disk whose logical blocks are larger than 512 bytes (4Kn) refuses O_DIRECT I/O at 512-byte offsets with
    /// EINVAL: such a file goes on without O_DIRECT (O_DSYNC still makes writes durable).
    /// </summary>
    private static bool DropDirect(int fd)
    {
        int flags = Native.fcntl(fd, Native.F_GETFL, 0);
        return flags >= 0 && (flags & Native.ODirect) != 0 && Native.fcntl(fd, Native.F_SETFL, flags & ~Native.ODirect) == 0;
    }

    private static partial class Native
    {
        public const int O_RDONLY = 0x0, O_RDWR = 0x2, O_CREAT = 0x40, O_DSYNC = 0x1000, O_CLOEXEC = 0x80000;
        public const int EINTR = 4, EINVAL = 22, SEEK_END = 2, F_GETFL = 3, F_SETFL = 4;

        /// <summary>O_DIRECT's value differs between architectures (040000 on x64, 0200000 on arm64).</summary>
        public static int ODirect => RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 0x10000 : 0x4000;

        [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int open(string path, int flags, int mode);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int close(int fd);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int fsync(int fd);

        [LibraryImport("libc", SetLastError = true)]
        public static partial nint pwrite(int fd, byte* buffer, nuint count, long offset);

        [LibraryImport("libc", SetLastError = true)]
        public static partial nint pread(int fd, byte* buffer, nuint count, long offset);

        [LibraryImport("libc", SetLastError = true)]
        public static partial int fcntl(int fd, int command, int argument);

        [LibraryImport("libc", SetLastError = true)]
        public static partial long lseek(int fd, long offset, int whence);
    }
}
