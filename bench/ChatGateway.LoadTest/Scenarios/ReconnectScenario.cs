using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using ChatGateway.LoadTest.Client;
using ChatGateway.LoadTest.Targets;
using ChatGateway.Protocol;
using ChatGateway.Server.Messaging;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// `reconnect` (gateway only): CLIENTS users connect, all drop at once, one sender then writes K messages to each
/// of them (1:1), and all reconnect at once; each syncs its conversation from the last seq it holds, page by page,
/// until it holds the K new messages. That round runs twice on one server: the first is the warm-up, and the
/// second, on a node that has already served a mass reconnect, is measured (the time from the reconnect until every
/// client caught up, and the server CPU spent). Measured alone on a fresh server, the round timed the JIT as much as
/// the gateway: it is the server's first sync and first burst of handshakes, and the tiered-compilation thread took
/// ~37% of the server's samples in it (perf, session 24). The warm-up round's time is reported too, as what a node
/// just started would take. Clients are spread over workers of at most 9,000 (the open-files limit).
/// </summary>
public static class ReconnectScenario
{
    private const int PerWorker = 9_000;
    private const long FirstUser = 1_000_000;
    private const long Sender = 1;

    public static async Task<Dictionary<string, object>> RunAsync(ServerKind kind, int clients, int missed, string secret)
    {
        await using ServerUnderTest server = await ServerUnderTest.StartAsync(kind, secret, MeasuredRun.Unlimited);
        string port = server.Port.ToString(CultureInfo.InvariantCulture);
        var workers = new List<WorkerProcess>();
        try
        {
            for (int first = 0; first < clients; first += PerWorker)
            {
                int count = Math.Min(PerWorker, clients - first);
                workers.Add(WorkerProcess.Start("worker-reconnect", kind.Id(), port, secret,
                    (FirstUser + first).ToString(CultureInfo.InvariantCulture), count.ToString(CultureInfo.InvariantCulture), missed.ToString(CultureInfo.InvariantCulture)));
            }
            foreach (WorkerProcess worker in workers)
            {
                await worker.WaitForAsync("CONNECTED", TimeSpan.FromMinutes(5));
            }
            (double warmupMs, _) = await RoundAsync(server, workers, kind, port, secret, clients, missed, round: 1);
            (double slowest, double serverCpu) = await RoundAsync(server, workers, kind, port, secret, clients, missed, round: 2);
            Console.WriteLine($"reconnect [{kind.Name()}]: {clients:N0} clients reconnect at once, {missed} missed messages each: all caught up in {slowest:N0} ms, " +
                              $"server CPU {serverCpu:F2} s ({serverCpu / clients * 1e6:F0} µs per client); warm-up round {warmupMs:N0} ms");
            return new Dictionary<string, object>
            {
                ["scenario"] = "reconnect",
                ["server"] = kind.Id(),
                ["serverName"] = kind.Name(),
                ["clients"] = clients,
                ["missedEach"] = missed,
                ["caughtUpMs"] = Math.Round(slowest),
                ["warmupCaughtUpMs"] = Math.Round(warmupMs),
                ["serverCpuSeconds"] = Math.Round(serverCpu, 3),
            };
        }
        finally
        {
            foreach (WorkerProcess worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// One round: every client drops, the filler writes <paramref name="missed"/> messages to each (client message
    /// ids of this round, so none is taken for a retry of the last round's), all reconnect at once and catch up.
    /// Returns the slowest worker's time until all its clients caught up, and the server CPU from the reconnect on.
    /// </summary>
    private static async Task<(double Ms, double ServerCpu)> RoundAsync(ServerUnderTest server, List<WorkerProcess> workers, ServerKind kind,
        string port, string secret, int clients, int missed, int round)
    {
        foreach (WorkerProcess worker in workers)
        {
            worker.Send("DROP");
        }
        foreach (WorkerProcess worker in workers)
        {
            await worker.WaitForAsync("DROPPED", TimeSpan.FromMinutes(1));
        }
        await server.MeasureMemoryAsync(0); // every session gone: the messages below go to pending
        long firstId = (long)(round - 1) * clients * missed + 1;
        await using (WorkerProcess filler = WorkerProcess.Start("worker-fill", kind.Id(), port, secret,
            FirstUser.ToString(CultureInfo.InvariantCulture), clients.ToString(CultureInfo.InvariantCulture), missed.ToString(CultureInfo.InvariantCulture),
            firstId.ToString(CultureInfo.InvariantCulture)))
        {
            await filler.WaitForAsync("FILLED", TimeSpan.FromMinutes(10));
        }
        double cpuStart = server.CpuSeconds();
        foreach (WorkerProcess worker in workers)
        {
            worker.Send("RECONNECT");
        }
        double slowest = 0;
        foreach (WorkerProcess worker in workers)
        {
            var result = new ResultLine(await worker.WaitForAsync("RESULT", TimeSpan.FromMinutes(10)));
            slowest = Math.Max(slowest, result.Double("ms"));
            if (result.Long("caughtUp") != result.Long("clients"))
            {
                throw new InvalidOperationException($"round {round}: only {result.Long("caughtUp")} of {result.Long("clients")} clients caught up");
            }
        }
        return (slowest, server.CpuSeconds() - cpuStart);
    }

    /// <summary>
    /// worker-reconnect KIND PORT SECRET FIRST_USER COUNT K: connect, then on each DROP (stdin) drop every connection
    /// and on each RECONNECT reconnect them all and catch up on the K messages each missed; until stdin ends.
    /// </summary>
    public static async Task<int> WorkerAsync(string[] args)
    {
        Wire wire = Wire.For(ServerKinds.Parse(args[1]), args[3]);
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(args[2], CultureInfo.InvariantCulture));
        long first = long.Parse(args[4], CultureInfo.InvariantCulture);
        int count = int.Parse(args[5], CultureInfo.InvariantCulture);
        int missed = int.Parse(args[6], CultureInfo.InvariantCulture);
        var connections = new LoadConnection[count];
        long[] lastSeq = new long[count]; // what each client holds of its conversation
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            connections[i] = await wire.ConnectAsync(server, first + i, ct);
        });
        Console.WriteLine($"CONNECTED {count}");
        while (await Console.In.ReadLineAsync() is { } command)
        {
            if (command == "DROP")
            {
                foreach (LoadConnection connection in connections)
                {
                    connection.Dispose(); // abrupt, like a phone losing its network
                }
                Console.WriteLine("DROPPED");
            }
            else if (command == "RECONNECT")
            {
                var clock = Stopwatch.StartNew();
                int caughtUp = 0;
                await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (i, ct) =>
                {
                    connections[i] = await wire.ConnectAsync(server, first + i, ct);
                    long target = lastSeq[i] + missed;
                    lastSeq[i] = await CatchUpAsync(connections[i], DirectConversation.IdOf(Sender, first + i), lastSeq[i], target);
                    if (lastSeq[i] == target)
                    {
                        Interlocked.Increment(ref caughtUp);
                    }
                });
                Console.WriteLine(FormattableString.Invariant($"RESULT ms={clock.Elapsed.TotalMilliseconds:F0} caughtUp={caughtUp} clients={count}"));
            }
        }
        foreach (LoadConnection connection in connections)
        {
            connection.Dispose();
        }
        return 0;
    }

    /// <summary>
    /// Syncs from <paramref name="lastSeq"/>, page by page (limit 100), until <paramref name="target"/> arrived in
    /// order or the server has nothing more; returns the last seq held in order (short of the target after a gap, a
    /// repeat, a close or an early end).
    /// </summary>
    private static async Task<long> CatchUpAsync(LoadConnection connection, long conversation, long lastSeq, long target)
    {
        var request = new ArrayBufferWriter<byte>(64);
        uint rid = 0;
        while (lastSeq < target)
        {
            request.ResetWrittenCount();
            ClientRequestWriter.Sync(request, ++rid, conversation, lastSeq, 100);
            connection.Append(request.WrittenSpan);
            await connection.FlushAsync();
            while (true)
            {
                (bool open, ReadOnlyMemory<byte> frame) = await connection.ReceiveAsync();
                if (!open)
                {
                    return lastSeq;
                }
                if (frame.Length > 1 && frame.Span[1] == (byte)MessageType.SyncResult
                    && ServerMessageReader.Read(new ReadOnlySequence<byte>(frame)) is SyncResultMessage { } result && result.RequestId == rid)
                {
                    foreach (ChatMessage message in result.Messages)
                    {
                        if (message.Seq != lastSeq + 1)
                        {
                            return lastSeq; // a gap or a repeat: not caught up
                        }
                        lastSeq = message.Seq;
                    }
                    if (result.Messages.Count == 0 && !result.HasMore)
                    {
                        return lastSeq;
                    }
                    break;
                }
            }
        }
        return lastSeq;
    }

    /// <summary>
    /// worker-fill KIND PORT SECRET FIRST_USER COUNT K FIRST_ID: user 1 sends K 100-byte messages to each user, 256 in
    /// flight, with client message ids from FIRST_ID on (a round's own: the server takes an id it saw as a retry);
    /// prints FILLED when all are acked.
    /// </summary>
    public static async Task<int> FillAsync(string[] args)
    {
        Wire wire = Wire.For(ServerKinds.Parse(args[1]), args[3]);
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(args[2], CultureInfo.InvariantCulture));
        long first = long.Parse(args[4], CultureInfo.InvariantCulture);
        int count = int.Parse(args[5], CultureInfo.InvariantCulture);
        int missed = int.Parse(args[6], CultureInfo.InvariantCulture);
        long firstId = long.Parse(args[7], CultureInfo.InvariantCulture);
        using LoadConnection sender = await wire.ConnectAsync(server, Sender, CancellationToken.None);
        var acks = new FillAcks();
        using var stop = new CancellationTokenSource();
        Task reading = Task.Run(() => Workers.ReceiveLoopAsync(sender, wire, acks, stop.Token));
        byte[] body = new byte[100];
        var scratch = new ArrayBufferWriter<byte>(256);
        long total = (long)count * missed;
        for (long sent = 0; sent < total;)
        {
            while (sent < total && sent - acks.Count < 256)
            {
                scratch.ResetWrittenCount();
                wire.WriteSend(scratch, first + sent % count, firstId + sent, body);
                sender.Append(scratch.WrittenSpan);
                sent++;
            }
            await sender.FlushAsync();
            await acks.Signal.WaitAsync(TimeSpan.FromSeconds(30));
        }
        while (acks.Count < total)
        {
            await acks.Signal.WaitAsync(TimeSpan.FromSeconds(30));
        }
        Console.WriteLine($"FILLED {total}");
        stop.Cancel();
        return 0;
    }

    private sealed class FillAcks : IInbound
    {
        private long _count;

        public long Count => Volatile.Read(ref _count);

        public SemaphoreSlim Signal { get; } = new(0);

        public void OnAck() => Interlocked.Increment(ref _count);

        public void OnDeliver(ReadOnlySpan<byte> body)
        {
        }

        public void OnBatchEnd()
        {
            if (Signal.CurrentCount == 0)
            {
                Signal.Release();
            }
        }
    }
}
