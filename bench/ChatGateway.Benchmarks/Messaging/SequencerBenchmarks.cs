using BenchmarkDotNet.Attributes;
using ChatGateway.Benchmarks.Storage;
using ChatGateway.Protocol;
using ChatGateway.Server.Auth;
using ChatGateway.Server.Hosting;
using ChatGateway.Server.Messaging;
using ChatGateway.Server.Sessions;
using ChatGateway.Storage;
using MessagePack;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatGateway.Benchmarks.Messaging;

/// <summary>
/// One sequencer shard with no network: what a session does per Send (encode the Deliver template, hand the
/// work to the shard) and what the shard does (journal append, group commit, ack, patch and fan out to the
/// members' sessions). 100-byte messages into 64 1:1 conversations whose two members each have a registered
/// session. The sessions are never opened, so their outbound queues close at the first frame and from then on
/// drop frames (a reference count decrement) instead of writing sockets: the figure is the sequencer's, not the
/// network's. The writer's records per commit (the batch sizes seen) are printed at the end.
/// <para>
/// Two shapes of load, each 4,096 sends per invocation (messages/s = 1 / Mean):
/// <see cref="SendThroughOneShard"/> submits a burst and waits for every ack, so each invocation also pays for
/// filling and draining the shard's pipeline (the submitter waits while the last batch commits and completes);
/// <see cref="SendPipelined"/> waits only for the acks of the invocation before, so 4,096 to 8,192 sends are always
/// in flight, as when many sessions keep sending: the shard's sustained rate.
/// </para>
/// </summary>
[MemoryDiagnoser]
public class SequencerBenchmarks
{
    private const int Messages = 4096;
    private const int Conversations = 64;
    private readonly byte[] _body = new byte[100];
    private readonly long[] _conversations = new long[Conversations];
    private ChatNode _node = null!;
    private Sequencer _sequencer = null!;
    private CountingRequester _requester = null!;
    private string _directory = "";
    private ulong _next;
    private long _submitted;

    [Params(DurabilityMode.Commit, DurabilityMode.Relaxed)]
    public DurabilityMode Durability { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = BenchStore.NewDirectory();
        // Room for twice the most in flight (2 × Messages, pipelined): a request is acked before the sequencer counts
        // it completed, so the next invocation may start while the last acked ones are still counted in flight, and a
        // bound of exactly 2 × Messages refused one now and then (session 17).
        var chat = new ChatOptions { Shards = 1, SequencerQueueDepth = Messages * 4, MaxQueuedFrames = 16, MaxQueuedBytes = 2L << 20, MaxPageBytes = 1 << 20 };
        var auth = new AuthOptions();
        var tokens = new TokenService(JwtSecret.Resolve(new string('s', 32), _directory), auth, TimeProvider.System);
        _node = new ChatNode(new GatewayOptions { Data = _directory }, chat, () => BenchStore.Options(_directory, Durability), tokens,
            TimeProvider.System, NullLoggerFactory.Instance);
        _node.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        _sequencer = _node.Sequencers[0];
        ChatStore store = _node.Store[0];
        for (int i = 0; i < Conversations; i++)
        {
            long a = 2 * i + 1, b = 2 * i + 2;
            _conversations[i] = DirectConversation.IdOf(a, b);
            store.CreateConversationAsync(_conversations[i], a, [b]).AsTask().GetAwaiter().GetResult();
            _node.Registry.Register(new ChatSession(_node, new AuthenticatedUser(a, long.MaxValue)));
            _node.Registry.Register(new ChatSession(_node, new AuthenticatedUser(b, long.MaxValue)));
        }
        _requester = new CountingRequester();
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task SendThroughOneShard()
    {
        Submit();
        await _requester.WhenAnswered(_submitted);
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task SendPipelined()
    {
        Submit();
        await _requester.WhenAnswered(_submitted - Messages);
    }

    private void Submit()
    {
        Span<byte> clientId = stackalloc byte[16];
        for (int i = 0; i < Messages; i++)
        {
            ulong id = ++_next;
            int index = (int)(id % Conversations);
            long conversation = _conversations[index];
            long sender = 2 * index + 1;
            // The SDK's ids: a prefix of the sending client's own, then that client's counter (each sender counts its sends).
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(clientId, 0x5eed_0000_0000_0000UL | (ulong)sender);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(clientId[8..], id / Conversations + 1);
            int maxBytes = ServerMessageWriter.MaxDeliverBytes(clientId.Length, _body.Length);
            OutboundFrame frame = OutboundFrame.Rent(maxBytes);
            frame.Advance(ServerMessageWriter.Deliver(frame.GetSpan(maxBytes), conversation, 0, sender, 0, clientId, _body));
            SequencerWork work = SequencerWork.RentSend(_requester, 0, conversation, sender, 0, ClientMessageId.FromBytes(clientId), frame, _body.Length);
            if (!_sequencer.TrySubmit(work))
            {
                throw new InvalidOperationException($"sequencer queue full: {_sequencer.Submitted - _sequencer.Completed} in flight");
            }
        }
        _submitted += Messages;
    }

    /// <summary>The shard's store, for measurements that watch it grow (<see cref="SequencerGrowthMeasurement"/>).</summary>
    internal ChatStore Store => _node.Store[0];

    [GlobalCleanup]
    public void Cleanup()
    {
        _requester.WhenAnswered(_submitted).GetAwaiter().GetResult();
        StoreStats stats = _node.Store[0].Stats;
        Console.WriteLine($"// {Durability}: {stats.Records} records in {stats.Batches} writer batches " +
                          $"({(double)stats.Records / Math.Max(1, stats.Batches):F1} records per batch), acks {_requester.Acks}, errors {_requester.Errors}");
        _node.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Counts answers (acks and errors) and wakes the benchmark once a given number has arrived.</summary>
    private sealed class CountingRequester : IRequester
    {
        private sealed class Waiter(long target)
        {
            public readonly long Target = target;
            public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        private long _answered;
        private Waiter? _waiter;
        public long Acks;
        public long Errors;

        public Task WhenAnswered(long count)
        {
            if (Volatile.Read(ref _answered) >= count)
            {
                return Task.CompletedTask;
            }
            var waiter = new Waiter(count);
            // Published with a full fence before the count is read again: either that read sees the last answer, or
            // the last answer's Arrived sees the waiter (both may try to wake it; the exchange lets one through).
            Interlocked.Exchange(ref _waiter, waiter);
            if (Volatile.Read(ref _answered) >= count)
            {
                Wake(waiter);
            }
            return waiter.Done.Task;
        }

        public void SendAck(uint rid, long conversation, long seq, long timestamp, bool duplicate)
        {
            Acks++;
            Arrived();
        }

        public void SendOk(uint rid, long value) { }

        public void SendError(uint rid, string code, string message)
        {
            Errors++;
            Arrived();
        }

        private void Arrived()
        {
            long answered = Interlocked.Increment(ref _answered);
            if (Volatile.Read(ref _waiter) is { } waiter && answered >= waiter.Target)
            {
                Wake(waiter);
            }
        }

        private void Wake(Waiter waiter)
        {
            if (Interlocked.CompareExchange(ref _waiter, null, waiter) == waiter)
            {
                waiter.Done.TrySetResult();
            }
        }
    }
}
