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
/// network's. Each invocation submits <see cref="Messages"/> sends at once and waits for every ack; the
/// writer's records per commit (the batch sizes seen) are printed at the end.
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

    [Params(DurabilityMode.Commit, DurabilityMode.Relaxed)]
    public DurabilityMode Durability { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = BenchStore.NewDirectory();
        var chat = new ChatOptions { Shards = 1, SequencerQueueDepth = Messages * 2, MaxQueuedFrames = 16, MaxQueuedBytes = 2L << 20, MaxPageBytes = 1 << 20 };
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
        Task done = _requester.Expect(Messages);
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
            OutboundFrame frame = OutboundFrame.Rent(_body.Length + 64);
            MessagePackWriter w = frame.Writer();
            ServerMessageWriter.Deliver(ref w, conversation, 0, sender, 0, clientId, _body);
            w.Flush();
            SequencerWork work = SequencerWork.RentSend(_requester, 0, conversation, sender, 0, ClientMessageId.FromBytes(clientId), frame, _body.Length);
            if (!_sequencer.TrySubmit(work))
            {
                throw new InvalidOperationException("sequencer queue full");
            }
        }
        await done;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        StoreStats stats = _node.Store[0].Stats;
        Console.WriteLine($"// {Durability}: {stats.Records} records in {stats.Batches} writer batches " +
                          $"({(double)stats.Records / Math.Max(1, stats.Batches):F1} records per batch), acks {_requester.Acks}, errors {_requester.Errors}");
        _node.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Counts acks and completes when the expected number has arrived.</summary>
    private sealed class CountingRequester : IRequester
    {
        private TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _remaining;
        public long Acks;
        public long Errors;

        public Task Expect(int count)
        {
            _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _remaining, count);
            return _done.Task;
        }

        public void SendAck(uint rid, long conversation, long seq, long timestamp, bool duplicate)
        {
            Acks++;
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                _done.TrySetResult();
            }
        }

        public void SendOk(uint rid, long value) { }

        public void SendError(uint rid, string code, string message)
        {
            Errors++;
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                _done.TrySetResult();
            }
        }
    }
}
