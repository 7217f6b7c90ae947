using BenchmarkDotNet.Attributes;
using ChatGateway.Storage;
using ChatGateway.Storage.Reading;

namespace ChatGateway.Benchmarks.Storage;

/// <summary>
/// ReadRange of the 100 most recent messages (100-byte bodies) of a 10,000-message conversation, into a reused page.
/// Reopened: the store was closed and opened again, so bodies come from the journal's files (through the page
/// cache, warm after the first iteration) rather than from the copy of recent records in memory (store format 4).
/// </summary>
[MemoryDiagnoser]
public class ReadRangeBenchmarks
{
    [Params(false, true)]
    public bool Reopened { get; set; }

    private ChatStore _store = null!;
    private string _directory = "";
    private readonly MessagePage _page = new();
    private long _head;

    [GlobalSetup]
    public void Setup()
    {
        _directory = BenchStore.NewDirectory();
        _store = ChatStore.OpenAsync(BenchStore.Options(_directory, DurabilityMode.Relaxed)).GetAwaiter().GetResult();
        byte[] body = new byte[100];
        Task.WhenAll(Enumerable.Range(0, 10_000).Select(_ => _store.AppendMessageAsync(1, 1, default, body, requireMembership: false).AsTask()))
            .GetAwaiter().GetResult();
        _store.CheckpointAsync().GetAwaiter().GetResult();
        if (Reopened)
        {
            _store.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _store = ChatStore.OpenAsync(BenchStore.Options(_directory, DurabilityMode.Relaxed)).GetAwaiter().GetResult();
        }
        _head = _store.GetConversation(1).Head;
        ReadRecent100(); // size the page's buffer once
    }

    [Benchmark]
    public int ReadRecent100()
    {
        _store.ReadRange(1, _head - 99, 100, _page);
        return _page.Messages.Count == 100 ? 100 : throw new InvalidOperationException($"read {_page.Messages.Count}");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
    }
}
