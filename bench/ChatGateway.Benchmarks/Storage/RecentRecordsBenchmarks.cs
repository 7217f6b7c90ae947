using BenchmarkDotNet.Attributes;
using ChatGateway.Storage.Journal;

namespace ChatGateway.Benchmarks.Storage;

/// <summary>
/// The store writer's copy of each message record into the recent-records ring (64 MiB, the default), at the
/// addresses the journal gives them: one 171-byte record (a Send of a 100-byte body) per invocation, the ring far
/// larger than the cache, as in a busy gateway: the copy and the publishing of the writer's reservation (a full
/// fence) per record. Session 22 tried reserving 64 KiB ahead, one fence per ~380 records: 24.3 ns against 22.5 ns,
/// no gain (bench/results/micro-chat.md).
/// </summary>
[MemoryDiagnoser]
public class RecentRecordsBenchmarks
{
    private const int RecordBytes = 171;
    private const long Stride = RecordBytes + sizeof(int);
    private readonly byte[] _record = new byte[RecordBytes];
    private RecentRecords _recent = null!;
    private long _address;

    [GlobalSetup]
    public void Setup()
    {
        Random.Shared.NextBytes(_record);
        _recent = new RecentRecords(64L << 20, 0);
    }

    [Benchmark]
    public long Add()
    {
        long address = _address;
        _recent.Add(address, _record);
        long next = address + Stride;
        long pageEnd = (next / JournalLog.PageBytes + 1) * JournalLog.PageBytes;
        _address = next + Stride > pageEnd ? pageEnd : next; // a journal record never crosses a page
        return address;
    }
}
