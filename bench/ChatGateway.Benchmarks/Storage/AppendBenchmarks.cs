using BenchmarkDotNet.Attributes;
using ChatGateway.Storage;

namespace ChatGateway.Benchmarks.Storage;

/// <summary>
/// Durable appends with group commit: each invocation submits <see cref="Batch"/> 100-byte messages at
/// once (spread over 64 conversations, with client ids) and waits for all their acknowledgements, so one
/// invocation is one group commit. Results are per message: messages/s = 1 s / Mean, commits/s =
/// messages/s / Batch (the writer's own batch count is printed at the end to confirm).
/// </summary>
[MemoryDiagnoser]
public class AppendBenchmarks
{
    private readonly byte[] _body = new byte[100];
    private ChatStore _store = null!;
    private string _directory = "";
    private ValueTask<WriteResult>[] _pending = [];
    private ulong _next;
    private long _invocations;

    [Params(1, 16, 256)]
    public int Batch { get; set; }

    [Params(DurabilityMode.Commit)]
    public DurabilityMode Durability { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = BenchStore.NewDirectory();
        _store = ChatStore.OpenAsync(BenchStore.Options(_directory, Durability)).GetAwaiter().GetResult();
        _pending = new ValueTask<WriteResult>[Batch];
    }

    [Benchmark]
    public async Task AppendBatch()
    {
        for (int i = 0; i < Batch; i++)
        {
            ulong id = ++_next;
            _pending[i] = _store.AppendMessageAsync((long)(id % 64) + 1, 1, new ClientMessageId(1, id), _body, requireMembership: false);
        }
        // Await the store's pooled ValueTasks one by one, as a caller would: no Task per message.
        for (int i = 0; i < Batch; i++)
        {
            await _pending[i];
        }
        _invocations++;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        BenchStore.Close(_store, _directory, $"batch {Batch}", _invocations);
    }
}
