using System.Buffers.Binary;

namespace ChatGateway.Storage.Journal;

/// <summary>
/// A copy of the journal's most recent message records, at the same addresses modulo the ring's size, so that
/// reads of recent history (a reconnect's sync, a page of history) cost a memory copy instead of a file read.
/// It is also what serves a Relaxed-mode reader a message that is acknowledged but not yet committed to disk.
/// <para>
/// One writer (the store's) adds records in address order; any number of readers copy from it without a lock.
/// A record's bytes at address a are overwritten once the writer has reserved past a + size: the writer
/// publishes each reservation before it writes, and a reader checks it after its copy (and the store checks
/// every record's CRC and identity too). The ring's size is a whole number of journal pages, and a journal
/// record never crosses a page, so no record wraps around the ring's end.
/// </para>
/// Bound: <see cref="StoreOptions.RecentMessagesBytes"/>; when full, the oldest records are overwritten.
/// </summary>
internal sealed class RecentRecords
{
    private const int LengthBytes = sizeof(int);

    private readonly byte[] _ring;
    private readonly long _mask;
    private readonly long _floor;
    private long _reserved;
    private long _published;

    /// <param name="bytes">Size, rounded up to a power of two and at least one journal page.</param>
    /// <param name="tail">The journal's tail when the ring starts: nothing before it is ever in the ring.</param>
    public RecentRecords(long bytes, long tail)
    {
        long size = (long)Math.Max((ulong)JournalLog.PageBytes, System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)bytes));
        _ring = GC.AllocateUninitializedArray<byte>(checked((int)size));
        _mask = size - 1;
        _floor = _reserved = _published = tail;
    }

    public long Bytes => _ring.Length;

    /// <summary>Copies the record the journal holds at <paramref name="address"/> (writer only; addresses increase).</summary>
    public void Add(long address, ReadOnlySpan<byte> record)
    {
        long end = address + LengthBytes + record.Length;
        if (end - address > _ring.Length)
        {
            return; // larger than the ring: readers go to the journal
        }
        // Published before the bytes change (a full fence: no store below may move above it).
        Interlocked.Exchange(ref _reserved, end);
        Span<byte> target = _ring.AsSpan((int)(address & _mask), LengthBytes + record.Length);
        BinaryPrimitives.WriteInt32LittleEndian(target, record.Length);
        record.CopyTo(target[LengthBytes..]);
        Volatile.Write(ref _published, end);
    }

    /// <summary>
    /// Copies the record at <paramref name="address"/> into <paramref name="destination"/> and returns its length,
    /// or returns -1 when the ring does not hold it intact (never added, or overwritten since).
    /// </summary>
    public int TryRead(long address, Span<byte> destination)
    {
        if (address < _floor || address >= Volatile.Read(ref _published) || Overwritten(address))
        {
            return -1;
        }
        ReadOnlySpan<byte> at = _ring.AsSpan((int)(address & _mask));
        int length = BinaryPrimitives.ReadInt32LittleEndian(at);
        if (length <= 0 || length > destination.Length || length > at.Length - LengthBytes)
        {
            return -1; // torn by an overwrite in progress
        }
        at.Slice(LengthBytes, length).CopyTo(destination);
        Interlocked.MemoryBarrier(); // the copy completes before the check below reads
        return Overwritten(address) ? -1 : length;
    }

    private bool Overwritten(long address) => address < Volatile.Read(ref _reserved) - _ring.Length;
}
