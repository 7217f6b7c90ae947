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
/// Bound: at most <see cref="MaxOpenSegments"/> segment files open; past it they are all closed and reopened on
/// demand.
/// </summary>
internal sealed class JournalReader(JournalLog journal, RecentRecords recent) : IDisposable
{
    private const int MaxOpenSegments = 16;
    private const int FirstRead = 4096;
    private static readonly TimeSpan CommitWait = TimeSpan.FromSeconds(5);

    private readonly Dictionary<long, SafeFileHandle> _open = [];

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
        long segment = address / JournalLog.SegmentBytes;
        long offset = address % JournalLog.SegmentBytes;
        SafeFileHandle? file = Open(segment);
        if (file is null)
        {
            return (0, 0); // removed by retention since BeginAddress was read
        }
        int read = RandomAccess.Read(file, buffer[..Math.Min(buffer.Length, FirstRead)], offset);
        if (read < sizeof(int))
        {
            return (0, 0);
        }
        length = BinaryPrimitives.ReadInt32LittleEndian(buffer);
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

    private SafeFileHandle? Open(long segment)
    {
        lock (_open)
        {
            if (_open.TryGetValue(segment, out SafeFileHandle? open))
            {
                return open;
            }
            if (_open.Count >= MaxOpenSegments)
            {
                CloseAll(); // a read in progress keeps its handle alive (SafeHandle counts its users)
            }
            try
            {
                open = File.OpenHandle(journal.SegmentPath(segment), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (FileNotFoundException)
            {
                return null;
            }
            _open[segment] = open;
            return open;
        }
    }

    private void CloseAll()
    {
        foreach (SafeFileHandle handle in _open.Values)
        {
            handle.Dispose();
        }
        _open.Clear();
    }

    public void Dispose()
    {
        lock (_open)
        {
            CloseAll();
        }
    }
}
