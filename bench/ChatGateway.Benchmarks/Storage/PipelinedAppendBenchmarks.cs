using BenchmarkDotNet.Attributes;
using ChatGateway.Storage;

namespace ChatGateway.Benchmarks.Storage;

/// <summary>
/// Durable append throughput under sustained load: like <see cref="AppendBenchmarks"/>, but the next batch is
/// submitted before the previous one is awaited, as a busy gateway's sessions keep sending while a commit is on
/// the disk. The writer then executes one batch while the other commits (its two-batch pipeline), so a batch
/// costs max(CPU, disk) instead of CPU + disk. Each group commit still carries exactly <see cref="Batch"/>
/// messages (MaxBatchSize = Batch; the writer's records per commit are printed at the end to confirm).
/// One invocation = one batch submitted and the one before it acknowledged: messages/s = Batch / Mean.
/// </summary>
[MemoryDiagnoser]
public class PipelinedAppendBenchmarks
{
    private readonly byte[] _body = new byte[100];
    private ChatStore _store = null!;
    private string _directory = "";
    private ValueTask<WriteResult>[] _previous = [];
    private ValueTask<WriteResult>[] _current = [];
    private ulong _next;
    private long _invocations;

    [Params(16, 256)]
    public int Batch { get; set; }

    [Params(DurabilityMode.Commit)]
    public DurabilityMode Durability { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = BenchStore.NewDirectory();
        StoreOptions options = BenchStore.Options(_directory, Durability);
        options.MaxBatchSize = Batch;
        _store = ChatStore.OpenAsync(options).GetAwaiter().GetResult();
        _previous = new ValueTask<WriteResult>[Batch];
        _current = new ValueTask<WriteResult>[Batch];
        Submit(_previous); // the batch in flight when the first invocation starts
    }

    [Benchmark]
    public async Task AppendPipelined()
    {
        Submit(_current);
        for (int i = 0; i < Batch; i++)
        {
            await _previous[i];
        }
        (_previous, _current) = (_current, _previous);
        _invocations++;
    }

    private void Submit(ValueTask<WriteResult>[] batch)
    {
        for (int i = 0; i < Batch; i++)
        {
            ulong id = ++_next;
            batch[i] = _store.AppendMessageAsync((long)(id % 64) + 1, 1, new ClientMessageId(1, id), _body, requireMembership: false);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        for (int i = 0; i < Batch; i++)
        {
            _previous[i].AsTask().GetAwaiter().GetResult();
        }
        BenchStore.Close(_store, _directory, $"pipelined batch {Batch}", _invocations);
    }
}
