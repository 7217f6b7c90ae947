using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace ChatGateway.Storage.Journal;

/// <summary>
/// Reads single journal records by address, for message reads (format 4 keeps message bodies only in the
/// journal). Recent records come from <see cref="RecentRecords"/>; older ones from the segment files, with
/// buffered reads (the page cache keeps history that is read again). Thread-safe.
/// <para>
/// On disk, FASTER's log puts each entry at its address as a 4-byte length and the entry's bytes, in segment
/// files of <see cref="JournalLog.SegmentBytes"/> (address / segment size is the file, the remainder the
/// offset). Only committed addresses are read from the files; a record the ring no longer holds and the journal
/// has not yet committed (Relaxed mode) is waited for.
/// </para>
/// Bound: at most <see cref="MaxOpenSegments"/> segment files kept open; past it they are all let go (each closed
/// once no read is using it) and reopened on demand.
/// </summary>
/// <param name="maxOpenSegments">The bound (tests lower it to make readers share and lose files).</param>
internal sealed class JournalReader(JournalLog journal, RecentRecords recent, int maxOpenSegments = JournalReader.MaxOpenSegments) : IDisposable
{
    public const int MaxOpenSegments = 16;
    private const int FirstRead = 4096;
    private static readonly TimeSpan CommitWait = TimeSpan.FromSeconds(5);

    private readonly Dictionary<long, OpenSegment> _open = [];

    /// <summary>
    /// Reads the record at <paramref name="address"/> into <paramref name="buffer"/> (large enough for the largest
    /// record plus 4 bytes) and returns where in it the record starts and how long it is; a length of 0 when the
    /// journal no longer holds that address (truncated by retention).
    /// </summary>
    public (int Start, int Length) Read(long address, Span<byte> buffer)
    {
        int length = recent.TryRead(address, buffer);
        if (length > 0)
        {
            return (0, length);
        }
        if (address >= journal.CommittedUntilAddress && !journal.WaitForCommit(address + 1, CommitWait))
        {
            // Relaxed mode: acknowledged, not yet on disk, no longer in the ring, and no commit came (a stopped store).
            return (0, 0);
        }
        if (address < journal.BeginAddress)
        {
            return (0, 0);
        }
        OpenSegment? file = Open(address / JournalLog.SegmentBytes);
        if (file is null)
        {
            return (0, 0); // removed by retention since BeginAddress was read
        }
        try
        {
            return ReadEntry(file.Handle, address % JournalLog.SegmentBytes, buffer);
        }
        finally
        {
            Release(file);
        }
    }

    /// <summary>FASTER's entry at <paramref name="offset"/>: a 4-byte length, then the record.</summary>
    private static (int Start, int Length) ReadEntry(SafeFileHandle file, long offset, Span<byte> buffer)
    {
        int read = RandomAccess.Read(file, buffer[..Math.Min(buffer.Length, FirstRead)], offset);
        if (read < sizeof(int))
        {
            return (0, 0);
        }
        int length = BinaryPrimitives.ReadInt32LittleEndian(buffer);
        if (length <= 0 || length > buffer.Length - sizeof(int))
        {
            return (sizeof(int), 0); // not an entry: damage; the caller reports the message as unreadable
        }
        if (sizeof(int) + length > read)
        {
            read += RandomAccess.Read(file, buffer[read..(sizeof(int) + length)], offset + read);
        }
        return (sizeof(int), Math.Min(length, read - sizeof(int)));
    }

    /// <summary>A segment file open for reads, and how many reads are using it: it is closed only when none is.</summary>
    private sealed class OpenSegment(SafeFileHandle handle)
    {
        public readonly SafeFileHandle Handle = handle;
        public int Users;
        public bool Evicted;
    }

    private OpenSegment? Open(long segment)
    {
        lock (_open)
        {
            if (!_open.TryGetValue(segment, out OpenSegment? open))
            {
                EvictRemoved();
                if (_open.Count >= maxOpenSegments)
                {
                    EvictAll();
                }
                try
                {
                    open = new OpenSegment(File.OpenHandle(journal.SegmentPath(segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
                }
                catch (FileNotFoundException)
                {
                    return null;
                }
                _open[segment] = open;
            }
            open.Users++;
            return open;
        }
    }

    private void Release(OpenSegment file)
    {
        lock (_open)
        {
            if (--file.Users == 0 && file.Evicted)
            {
                file.Handle.Dispose();
            }
        }
    }

    /// <summary>Forgets every open file; each is closed now, or by the last read still using it.</summary>
    private void EvictAll()
    {
        foreach (OpenSegment file in _open.Values)
        {
            Evict(file);
        }
        _open.Clear();
    }

    /// <summary>Lets go of segments retention has removed: an open handle would keep a deleted file's space allocated.</summary>
    private void EvictRemoved()
    {
        long first = journal.BeginAddress / JournalLog.SegmentBytes;
        foreach ((long segment, OpenSegment file) in _open)
        {
            if (segment < first)
            {
                Evict(file);
                _open.Remove(segment); // allowed while enumerating a Dictionary since .NET Core 3.0
            }
        }
    }

    private static void Evict(OpenSegment file)
    {
        file.Evicted = true;
        if (file.Users == 0)
        {
            file.Handle.Dispose();
        }
    }

    public void Dispose()
    {
        lock (_open)
        {
            EvictAll();
        }
    }
}
