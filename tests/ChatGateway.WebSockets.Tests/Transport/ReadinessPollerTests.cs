using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using ChatGateway.WebSockets.Transport;

namespace ChatGateway.WebSockets.Tests.Transport;

/// <summary>
/// <see cref="SocketPipeReader"/> waiting through a <see cref="ReadinessPoller"/> of its own, over real TCP sockets on
/// 127.0.0.1; and the zero-byte receive it falls back to where there is no poller.
/// </summary>
public sealed class ReadinessPollerTests
{
    // Long enough for a slow hour of a shared 2-core host with the other test classes running beside (the many-readers
    // test, 2-4 s alone, once took over 10 s in CI there); a lost wake-up still fails: it never completes.
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Input_that_arrives_while_no_read_waits_is_read_by_the_next_read()
    {
        ReadinessPoller poller = StartPoller();
        using (ReaderOnSocket pair = await ReaderOnSocket.ConnectAsync(poller))
        {
            (Socket client, SocketPipeReader reader) = (pair.Client, pair.Reader);
            Assert.Equal(1, poller.Registered);

            // A read that waits, then is woken by the poller.
            await AssertWaitingReadGetsAsync(client, reader, "first"u8.ToArray());

            // Bytes reported while no read waits: the poller reports each arrival once (edge-triggered), so the
            // reader must keep that report for its next wait, or this read would sleep forever.
            await AssertReportedInputIsReadAsync(poller, client, reader, "second"u8.ToArray());

            // And the end of input arrives the same way.
            ValueTask<ReadResult> last = reader.ReadAsync();
            client.Shutdown(SocketShutdown.Send);
            Assert.True((await last.AsTask().WaitAsync(Timeout)).IsCompleted);
            reader.Complete();
            Assert.Equal(0, poller.Registered);
        }
    }

    [Fact]
    public async Task Input_reported_to_a_wait_whose_read_was_canceled_is_read_by_the_next_read()
    {
        ReadinessPoller poller = StartPoller();
        using (ReaderOnSocket pair = await ReaderOnSocket.ConnectAsync(poller))
        {
            (Socket client, SocketPipeReader reader) = (pair.Client, pair.Reader);
            ValueTask<ReadResult> waiting = reader.ReadAsync(); // finds the socket empty: waits for the poller
            Assert.False(waiting.IsCompleted);
            reader.CancelPendingRead();
            ReadResult canceled = await waiting.AsTask().WaitAsync(Timeout);
            Assert.True(canceled.IsCanceled);
            reader.AdvanceTo(canceled.Buffer.End);

            // The report reaches the wait that is still on, with no read to hand the bytes to. It is the only report
            // these bytes get, so the next read must receive rather than wait for another.
            await AssertReportedInputIsReadAsync(poller, client, reader, "after"u8.ToArray());
            reader.Complete();
        }
    }

    [Fact]
    public async Task Many_readers_under_random_pauses_and_cancellations_receive_every_byte_in_order()
    {
        ReadinessPoller poller = StartPoller();
        const int Connections = 24;
        const int BytesEach = 400_000;
        var pairs = new List<ReaderOnSocket>();
        for (int i = 0; i < Connections; i++)
        {
            pairs.Add(await ReaderOnSocket.ConnectAsync(poller));
        }
        using var stop = new CancellationTokenSource();
        // Cancels pending reads at random while bytes flow: every cancel ends a wait that the poller may report to.
        var canceller = Task.Run(async () =>
        {
            var random = new Random(7);
            while (!stop.IsCancellationRequested)
            {
                pairs[random.Next(Connections)].Reader.CancelPendingRead();
                await Task.Yield();
            }
        });
        Task[] sending = [.. pairs.Select((p, i) => Task.Run(async () =>
        {
            var random = new Random(i);
            int sent = 0;
            while (sent < BytesEach)
            {
                byte[] chunk = new byte[Math.Min(random.Next(1, 9_000), BytesEach - sent)];
                for (int b = 0; b < chunk.Length; b++)
                {
                    chunk[b] = (byte)(sent + b);
                }
                await p.Client.SendAsync(chunk);
                sent += chunk.Length;
                if (random.Next(4) == 0)
                {
                    await Task.Delay(random.Next(2)); // pauses let readers drain and wait again
                }
            }
        }))];
        Task<long>[] receiving = [.. pairs.Select(p => Task.Run(async () =>
        {
            long received = 0;
            while (received < BytesEach)
            {
                ReadResult read = await p.Reader.ReadAsync();
                foreach (ReadOnlyMemory<byte> segment in read.Buffer)
                {
                    for (int b = 0; b < segment.Length; b++)
                    {
                        Assert.Equal((byte)(received + b), segment.Span[b]);
                    }
                    received += segment.Length;
                }
                p.Reader.AdvanceTo(read.Buffer.End);
            }
            return received;
        }))];
        await Task.WhenAll(sending).WaitAsync(Timeout);
        long[] totals = await Task.WhenAll(receiving).WaitAsync(Timeout);
        stop.Cancel();
        await canceller;
        Assert.All(totals, total => Assert.Equal(BytesEach, total));
        foreach (ReaderOnSocket pair in pairs)
        {
            pair.Dispose(); // completes the reader: it leaves the poller
        }
        Assert.Equal(0, poller.Registered);
    }

    [Fact]
    public async Task Completed_readers_leave_the_poller_and_their_slots_are_reused()
    {
        ReadinessPoller poller = StartPoller();
        for (int round = 0; round < 3; round++)
        {
            var pairs = new List<ReaderOnSocket>();
            for (int i = 0; i < 40; i++)
            {
                pairs.Add(await ReaderOnSocket.ConnectAsync(poller));
            }
            Assert.Equal(40, poller.Registered);
            // Every reader still hears its own input (a slot mixed up with another's would hang or misdeliver).
            var reads = pairs.Select(p => p.Reader.ReadAsync().AsTask()).ToArray();
            for (int i = 0; i < pairs.Count; i++)
            {
                pairs[i].Client.Send(BitConverter.GetBytes(i));
            }
            for (int i = 0; i < pairs.Count; i++)
            {
                ReadResult read = await reads[i].WaitAsync(Timeout);
                Assert.Equal(i, BitConverter.ToInt32(read.Buffer.ToArray()));
                pairs[i].Reader.AdvanceTo(read.Buffer.End);
            }
            foreach (ReaderOnSocket pair in pairs)
            {
                pair.Dispose(); // completes the reader: it leaves the poller
            }
            Assert.Equal(0, poller.Registered);
            Assert.Equal(40, poller.Slots); // three rounds of 40 connections took 40 slots
        }
    }

    [Fact]
    public async Task Without_a_poller_a_read_waits_with_a_zero_byte_receive()
    {
        using (ReaderOnSocket pair = await ReaderOnSocket.ConnectAsync(poller: null))
        {
            await AssertWaitingReadGetsAsync(pair.Client, pair.Reader, "bytes"u8.ToArray());
            pair.Reader.Complete();
        }
    }

    /// <summary>A read on an empty socket waits, and <paramref name="bytes"/> sent then wake it with exactly those bytes.</summary>
    private static async Task AssertWaitingReadGetsAsync(Socket client, SocketPipeReader reader, byte[] bytes)
    {
        ValueTask<ReadResult> waiting = reader.ReadAsync();
        Assert.False(waiting.IsCompleted);
        client.Send(bytes);
        ReadResult read = await waiting.AsTask().WaitAsync(Timeout);
        Assert.Equal(bytes, read.Buffer.ToArray());
        reader.AdvanceTo(read.Buffer.End);
    }

    /// <summary>
    /// <paramref name="bytes"/> sent while no read waits: once the poller has reported them, the next read gets exactly
    /// those bytes (the report is the only one they get, so the reader must have kept it).
    /// </summary>
    private static async Task AssertReportedInputIsReadAsync(ReadinessPoller poller, Socket client, SocketPipeReader reader, byte[] bytes)
    {
        long reports = poller.Reports;
        client.Send(bytes);
        Assert.True(SpinWait.SpinUntil(() => poller.Reports > reports, Timeout), "the poller never reported the send");
        ReadResult read = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(bytes, read.Buffer.ToArray());
        reader.AdvanceTo(read.Buffer.End);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(1)]
    public async Task Input_of_few_sockets_at_once_may_be_handled_on_the_poller_and_input_of_more_goes_to_the_pool_unless_on_one_core(int cores)
    {
        ReadinessPoller poller = StartPoller(cores);
        const int Many = ReadinessPoller.MaxReportsHandledHere + 1;
        var pairs = new List<(Socket Client, Socket Server)>();
        var targets = new List<RecordingTarget>();
        try
        {
            for (int i = 0; i <= Many; i++)
            {
                (Socket client, Socket server) = await ConnectPairAsync();
                pairs.Add((client, server));
                var target = new RecordingTarget();
                targets.Add(target);
                Assert.True(poller.TryRegister(new SafeSocketHandle(server.Handle, ownsHandle: false), target, out long token));
                poller.AllowHandlingHere(token);
            }
            Assert.False(ReadinessPoller.IsPollerThread);

            // Alone: the target hears of it on the poller's thread, allowed to handle it there.
            pairs[0].Client.Send([1]);
            (bool mayHandleHere, bool onPoller) = await targets[0].NextReport.WaitAsync(Timeout);
            Assert.True(mayHandleHere);
            Assert.True(onPoller);

            // Hold the poller inside a report, let input reach more sockets than it may handle itself, then let go: its
            // next wait reports them all at once, and each is told to hand its input on; on one core, to handle it here.
            var hold = new ManualResetEventSlim();
            targets[0].Block = hold;
            pairs[0].Client.Send([2]);
            await targets[0].NextReport.WaitAsync(Timeout); // the poller is now held in target 0's report
            for (int i = 1; i <= Many; i++)
            {
                pairs[i].Client.Send([3]);
            }
            for (int i = 1; i <= Many; i++)
            {
                while (pairs[i].Server.Available == 0) // in the socket's receive queue, so in the next wait's report
                {
                    await Task.Yield();
                }
            }
            hold.Set();
            for (int i = 1; i <= Many; i++)
            {
                (mayHandleHere, onPoller) = await targets[i].NextReport.WaitAsync(Timeout);
                Assert.True(mayHandleHere == (cores == 1), $"socket {i} of {Many} reported together on {cores} cores: may handle here {mayHandleHere}");
                Assert.True(onPoller);
            }
        }
        finally
        {
            targets[0].Block?.Set();
            foreach ((Socket client, Socket server) in pairs)
            {
                client.Dispose();
                server.Dispose();
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_waiting_read_continues_on_the_poller_only_when_its_reader_asks_for_it(bool continueOnPoller)
    {
        ReadinessPoller poller = StartPoller();
        using ReaderOnSocket pair = await ReaderOnSocket.ConnectAsync(poller);
        if (continueOnPoller)
        {
            pair.Reader.ContinueOnPoller();
        }
        Task<bool> continuedOnPoller = ReadThenTellWhereAsync(pair.Reader);
        Assert.False(continuedOnPoller.IsCompleted); // the socket is empty: the read waits for the poller

        pair.Client.Send("hi"u8);

        Assert.Equal(continueOnPoller, await continuedOnPoller.WaitAsync(Timeout));
    }

    /// <summary>Whether the code after a read that had to wait ran on a poller's thread (no context captured).</summary>
    private static async Task<bool> ReadThenTellWhereAsync(SocketPipeReader reader)
    {
        ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
        bool onPoller = ReadinessPoller.IsPollerThread;
        reader.AdvanceTo(result.Buffer.End);
        return onPoller;
    }

    /// <summary>Records each report it gets; while <see cref="Block"/> is set and unsignaled, holds the poller in the report.</summary>
    private sealed class RecordingTarget : IReadinessTarget
    {
        private readonly System.Threading.Channels.Channel<(bool, bool)> _reports = System.Threading.Channels.Channel.CreateUnbounded<(bool, bool)>();
        public ManualResetEventSlim? Block;

        public Task<(bool MayHandleHere, bool OnPoller)> NextReport => _reports.Reader.ReadAsync().AsTask();

        public void OnReady(bool mayHandleHere)
        {
            _reports.Writer.TryWrite((mayHandleHere, ReadinessPoller.IsPollerThread));
            if (Block is { IsSet: false } block)
            {
                block.Wait(Timeout);
            }
        }

        public void OnReadyFailed(Exception error) => _reports.Writer.TryComplete(error);
    }

    /// <summary>A real TCP connection on 127.0.0.1: the client's socket and the accepted one.</summary>
    private static async Task<(Socket Client, Socket Server)> ConnectPairAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Task<Socket> accepting = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        return (client, await accepting);
    }

    /// <summary>A poller of its own, for a process of <paramref name="cores"/> cores (this machine's, by default).</summary>
    private static ReadinessPoller StartPoller(int? cores = null)
    {
        Assert.True(Epoll.Supported, "the gateway's target (Linux on x86-64) has epoll; elsewhere the transport waits with a zero-byte receive");
        return ReadinessPoller.TryStart(cores) ?? throw new InvalidOperationException("epoll_create1 failed");
    }

    /// <summary>A real TCP connection on 127.0.0.1 and a reader on its accepted side; disposing completes the reader and closes both sockets.</summary>
    private sealed class ReaderOnSocket(Socket client, Socket server, SocketPipeReader reader) : IDisposable
    {
        public Socket Client { get; } = client;
        public SocketPipeReader Reader { get; } = reader;

        public static async Task<ReaderOnSocket> ConnectAsync(ReadinessPoller? poller)
        {
            (Socket client, Socket server) = await ConnectPairAsync();
            var connection = new DirectSocketConnection(server, 1 << 20, poller);
            return new ReaderOnSocket(client, server, (SocketPipeReader)connection.Transport.Input);
        }

        public void Dispose()
        {
            Reader.Complete(); // a second completion (after the test's own) changes nothing
            server.Dispose();
            Client.Dispose();
        }
    }
}
