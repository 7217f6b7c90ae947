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
/// of them (1:1), and all reconnect at once; each syncs its conversation from its last seq (0) page by page
/// until it holds the K messages. Reports the time from the reconnect until every client caught up, and the
/// server CPU spent. Clients are spread over workers of at most 9,000 (the open-files limit).
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
                worker.Send("DROP");
            }
            foreach (WorkerProcess worker in workers)
            {
                await worker.WaitForAsync("DROPPED", TimeSpan.FromMinutes(1));
            }
            await server.MeasureMemoryAsync(0); // every session gone: the messages below go to pending
            await using (WorkerProcess filler = WorkerProcess.Start("worker-fill", kind.Id(), port, secret,
                FirstUser.ToString(CultureInfo.InvariantCulture), clients.ToString(CultureInfo.InvariantCulture), missed.ToString(CultureInfo.InvariantCulture)))
            {
                await filler.WaitForAsync("FILLED", TimeSpan.FromMinutes(10));
            }
            double cpuStart = server.CpuSeconds();
            var clock = Stopwatch.StartNew();
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
                    throw new InvalidOperationException($"only {result.Long("caughtUp")} of {result.Long("clients")} clients caught up");
                }
            }
            double serverCpu = server.CpuSeconds() - cpuStart;
            Console.WriteLine($"reconnect [{kind.Name()}]: {clients:N0} clients reconnect at once, {missed} missed messages each: all caught up in {slowest:N0} ms, " +
                              $"server CPU {serverCpu:F2} s ({serverCpu / clients * 1e6:F0} µs per client)");
            return new Dictionary<string, object>
            {
                ["scenario"] = "reconnect",
                ["server"] = kind.Id(),
                ["serverName"] = kind.Name(),
                ["clients"] = clients,
                ["missedEach"] = missed,
                ["caughtUpMs"] = Math.Round(slowest),
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

    /// <summary>worker-reconnect KIND PORT SECRET FIRST_USER COUNT K: connect, then DROP and RECONNECT on command (stdin).</summary>
    public static async Task<int> WorkerAsync(string[] args)
    {
        Wire wire = Wire.For(ServerKinds.Parse(args[1]), args[3]);
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(args[2], CultureInfo.InvariantCulture));
        long first = long.Parse(args[4], CultureInfo.InvariantCulture);
        int count = int.Parse(args[5], CultureInfo.InvariantCulture);
        int missed = int.Parse(args[6], CultureInfo.InvariantCulture);
        var connections = new LoadConnection[count];
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            connections[i] = await wire.ConnectAsync(server, first + i, ct);
        });
        Console.WriteLine($"CONNECTED {count}");
        await Console.In.ReadLineAsync(); // DROP
        foreach (LoadConnection connection in connections)
        {
            connection.Dispose(); // abrupt, like a phone losing its network
        }
        Console.WriteLine("DROPPED");
        await Console.In.ReadLineAsync(); // RECONNECT
        var clock = Stopwatch.StartNew();
        int caughtUp = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (i, ct) =>
        {
            using LoadConnection connection = await wire.ConnectAsync(server, first + i, ct);
            if (await CatchUpAsync(connection, DirectConversation.IdOf(Sender, first + i), missed))
            {
                Interlocked.Increment(ref caughtUp);
            }
        });
        Console.WriteLine(FormattableString.Invariant($"RESULT ms={clock.Elapsed.TotalMilliseconds:F0} caughtUp={caughtUp} clients={count}"));
        await Console.In.ReadLineAsync();
        return 0;
    }

    /// <summary>Syncs from seq 0, page by page (limit 100), until <paramref name="missed"/> messages arrived in order.</summary>
    private static async Task<bool> CatchUpAsync(LoadConnection connection, long conversation, int missed)
    {
        var request = new ArrayBufferWriter<byte>(64);
        long lastSeq = 0;
        uint rid = 0;
        while (lastSeq < missed)
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
                    return false;
                }
                if (frame.Length > 1 && frame.Span[1] == (byte)MessageType.SyncResult
                    && ServerMessageReader.Read(new ReadOnlySequence<byte>(frame)) is SyncResultMessage { } result && result.RequestId == rid)
                {
                    foreach (ChatMessage message in result.Messages)
                    {
                        if (message.Seq != lastSeq + 1)
                        {
                            return false; // a gap or a repeat: not caught up
                        }
                        lastSeq = message.Seq;
                    }
                    if (result.Messages.Count == 0 && !result.HasMore)
                    {
                        return lastSeq >= missed;
                    }
                    break;
                }
            }
        }
        return true;
    }

    /// <summary>worker-fill KIND PORT SECRET FIRST_USER COUNT K: user 1 sends K 100-byte messages to each user, 256 in flight; prints FILLED when all are acked.</summary>
    public static async Task<int> FillAsync(string[] args)
    {
        Wire wire = Wire.For(ServerKinds.Parse(args[1]), args[3]);
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(args[2], CultureInfo.InvariantCulture));
        long first = long.Parse(args[4], CultureInfo.InvariantCulture);
        int count = int.Parse(args[5], CultureInfo.InvariantCulture);
        int missed = int.Parse(args[6], CultureInfo.InvariantCulture);
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
                wire.WriteSend(scratch, first + sent % count, sent + 1, body);
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
