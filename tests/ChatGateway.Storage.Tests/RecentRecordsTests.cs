using System.Buffers.Binary;
using ChatGateway.Storage.Journal;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// The copy of recent journal records that sync and history read without a lock: a record reads back intact until
/// the writer comes round the ring to its place, and a reader racing the writer never takes overwritten bytes for
/// a record (the writer publishes its reservation before it writes; publishing it after fails the second test).
/// </summary>
public sealed class RecentRecordsTests
{
    private const int RingBytes = 1 << 20; // the smallest ring: one journal page
    private const int RecordBytes = 171; // a Send of a 100-byte body, as journaled
    private const long Stride = RecordBytes + sizeof(int); // each record's length prefix takes the ring's bytes too

    [Fact]
    public void A_record_reads_back_until_the_writer_comes_round_the_ring_to_its_place()
    {
        const long tail = 4096;
        var recent = new RecentRecords(RingBytes, tail);
        byte[] record = new byte[RecordBytes];
        byte[] read = new byte[RecordBytes];
        long address = tail;
        Fill(record, address);
        recent.Add(address, record);
        long first = address;
        Assert.Equal(RecordBytes, recent.TryRead(first, read));
        Assert.True(read.AsSpan().SequenceEqual(record));

        bool firstGone = false;
        while (!firstGone && address < first + 2L * RingBytes)
        {
            address = Next(address);
            Fill(record, address);
            recent.Add(address, record);
            Assert.Equal(RecordBytes, recent.TryRead(address, read));
            Assert.True(read.AsSpan().SequenceEqual(record));

            int firstRead = recent.TryRead(first, read);
            firstGone = firstRead < 0;
            if (!firstGone)
            {
                Assert.Equal(RecordBytes, firstRead);
                Assert.Equal(first, BinaryPrimitives.ReadInt64LittleEndian(read));
            }
        }
        Assert.True(firstGone, "a record is given up on once the ring has come round to it");
        // Given up on when the record just added reached its place, not before (read intact until then: checked above).
        Assert.True(address + Stride > first + RingBytes);
        Assert.Equal(-1, recent.TryRead(tail - Stride, read)); // before the ring started: never in it
        Assert.Equal(-1, recent.TryRead(Next(address), read)); // not added yet
    }

    [Fact]
    public void A_reader_racing_the_writer_around_the_ring_gets_each_record_whole_or_not_at_all()
    {
        var recent = new RecentRecords(RingBytes, 0);
        long written = 0; // where the writer has added up to
        long end = 200L * RingBytes; // the ring overwritten 200 times
        using var done = new CancellationTokenSource();
        long intact = 0;
        long refused = 0;
        Exception? readerFailure = null;
        using var started = new ManualResetEventSlim();
        var reader = new Thread(() =>
        {
            byte[] read = new byte[RecordBytes];
            var random = new Random(7);
            started.Set();
            try
            {
                while (!done.IsCancellationRequested)
                {
                    // A record near the oldest end of the ring: the one the writer is about to overwrite.
                    long oldest = Math.Max(0, Volatile.Read(ref written) - RingBytes + random.Next(0, 400) * Stride);
                    long page = oldest / JournalLog.PageBytes * JournalLog.PageBytes;
                    long address = Math.Min(page + (oldest - page + Stride - 1) / Stride * Stride, page + (JournalLog.PageBytes / Stride - 1) * Stride);
                    int length = recent.TryRead(address, read);
                    if (length < 0)
                    {
                        Interlocked.Increment(ref refused);
                        continue;
                    }
                    Assert.Equal(RecordBytes, length);
                    byte[] expected = new byte[RecordBytes];
                    Fill(expected, address);
                    Assert.True(read.AsSpan().SequenceEqual(expected), $"the record at {address} was read torn or overwritten");
                    Interlocked.Increment(ref intact);
                }
            }
            catch (Exception ex)
            {
                readerFailure = ex;
            }
        });
        reader.Start();
        started.Wait();
        byte[] record = new byte[RecordBytes];
        // At least 200 rings, and on until the reader has seen both outcomes often (a slow machine schedules it late).
        for (long address = 0; readerFailure is null && (address < end || !RacedEnough() && address < 20 * end); address = Next(address))
        {
            Fill(record, address);
            recent.Add(address, record);
            Volatile.Write(ref written, address + Stride);
        }
        done.Cancel();
        reader.Join();
        Assert.True(readerFailure is null, readerFailure?.Message);
        Assert.True(RacedEnough(), $"the reader raced the writer on both sides ({intact} intact, {refused} refused)");

        bool RacedEnough() => Volatile.Read(ref intact) >= 100 && Volatile.Read(ref refused) >= 100;
    }

    /// <summary>Where the journal puts the record after the one at <paramref name="address"/>: never across a page.</summary>
    private static long Next(long address)
    {
        long next = address + Stride;
        long page = next / JournalLog.PageBytes * JournalLog.PageBytes;
        return next + Stride > page + JournalLog.PageBytes ? page + JournalLog.PageBytes : next;
    }

    /// <summary>Bytes that tell one address's record from any other's: the address, then a pattern seeded by it.</summary>
    private static void Fill(byte[] record, long address)
    {
        BinaryPrimitives.WriteInt64LittleEndian(record, address);
        for (int i = sizeof(long); i < record.Length; i++)
        {
            record[i] = (byte)(address * 31 + i);
        }
    }
}
