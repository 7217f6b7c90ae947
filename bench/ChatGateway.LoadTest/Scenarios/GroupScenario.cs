using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using ChatGateway.LoadTest.Client;
using ChatGateway.LoadTest.Targets;
using ChatGateway.Protocol;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// `group` (gateway only: the peers relay 1:1): one sender into a group of MEMBERS users, all online, each on one
/// connection; deliveries/s and deliveries per server CPU-second. The sender keeps WINDOW messages on their way,
/// end to end: a slot frees when the slowest member got the message.
/// </summary>
public static class GroupScenario
{
    public static async Task<Dictionary<string, object>> RunAsync(ServerKind kind, int members, int window, double warmup, double seconds, string secret)
    {
        MeasuredRun.Measurement measured = await MeasuredRun.RunAsync(kind, secret, "worker-group", members, window, warmup, seconds);
        (ResultLine result, double serverCpu, _, _, _) = measured;
        long delivered = result.Long("delivered");
        double elapsed = result.Double("seconds");
        double loadCpu = result.Double("loadCpu");
        Console.WriteLine($"group [{kind.Name()}] ({members:N0} members, window {window}): {delivered / elapsed:N0} deliveries/s " +
                          $"({delivered / elapsed / (members - 1):N0} messages/s), server CPU {serverCpu / elapsed * 100:F0}%, load CPU {loadCpu / elapsed * 100:F0}%, " +
                          $"{delivered / serverCpu:N0} deliveries per server CPU-second{measured.CommitWaitsText}{measured.StealText}");
        return measured.WithSteal(measured.WithCommitWaits(new Dictionary<string, object>
        {
            ["scenario"] = "group",
            ["server"] = kind.Id(),
            ["serverName"] = kind.Name(),
            ["members"] = members,
            ["window"] = window,
            ["seconds"] = Math.Round(elapsed, 2),
            ["deliveriesPerSecond"] = Math.Round(delivered / elapsed),
            ["messagesPerSecond"] = Math.Round(delivered / elapsed / (members - 1)),
            ["serverCpuShare"] = Math.Round(serverCpu / elapsed, 3),
            ["loadCpuShare"] = Math.Round(loadCpu / elapsed, 3),
            ["deliveriesPerServerCpuSecond"] = Math.Round(serverCpu > 0 ? delivered / serverCpu : 0),
        }));
    }

    /// <summary>worker-group KIND PORT SECRET MEMBERS WINDOW WARMUP_S MEASURE_S (see <see cref="RunAsync"/>).</summary>
    public static async Task<int> WorkerAsync(string[] args)
    {
        var wire = (GatewayWire)Wire.For(ServerKinds.Parse(args[1]), args[3]);
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(args[2], CultureInfo.InvariantCulture));
        int members = int.Parse(args[4], CultureInfo.InvariantCulture);
        int window = int.Parse(args[5], CultureInfo.InvariantCulture);
        TimeSpan warmup = TimeSpan.FromSeconds(double.Parse(args[6], CultureInfo.InvariantCulture));
        TimeSpan measure = TimeSpan.FromSeconds(double.Parse(args[7], CultureInfo.InvariantCulture));
        const long firstUser = 300_000;
        var connections = new LoadConnection[members];
        await Parallel.ForEachAsync(Enumerable.Range(0, members), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, ct) =>
        {
            connections[i] = await wire.ConnectAsync(server, firstUser + i, ct);
        });
        LoadConnection sender = connections[0];
        long conversation = await CreateGroupAsync(sender, [.. Enumerable.Range(1, members - 1).Select(i => firstUser + i)]);

        var total = new Counter();
        var progress = new GroupProgress(members - 1, total);
        using var stop = new CancellationTokenSource();
        Task[] receiving = [.. Enumerable.Range(1, members - 1).Select(i =>
            Task.Run(() => Workers.ReceiveLoopAsync(connections[i], wire, new GroupProgress.Member(progress, i - 1), stop.Token)))];
        Task draining = Task.Run(() => Workers.ReceiveLoopAsync(sender, wire, new Counter(), stop.Token));
        byte[] body = new byte[100];
        Task sending = Task.Run(() => Workers.WindowedSendLoopAsync(sender, progress, window,
            (output, id) => wire.WriteGroupSend(output, conversation, id, body), stop.Token));

        await Task.Delay(warmup);
        (long end, long start, double elapsed, double cpu) = await Workers.MeasureAsync(() => total.Delivers, measure);
        Console.WriteLine(FormattableString.Invariant($"RESULT delivered={end - start} seconds={elapsed:F3} loadCpu={cpu:F3}"));
        stop.Cancel();
        foreach (LoadConnection connection in connections)
        {
            connection.Dispose();
        }
        return 0;
    }

    /// <summary>CreateGroup, then the conversation id from the Ok that answers it (Hello and other frames before it are skipped).</summary>
    private static async Task<long> CreateGroupAsync(LoadConnection sender, long[] others)
    {
        var request = new ArrayBufferWriter<byte>();
        ClientRequestWriter.CreateGroup(request, 1, others);
        sender.Append(request.WrittenSpan);
        await sender.FlushAsync();
        while (true)
        {
            (bool open, ReadOnlyMemory<byte> frame) = await sender.ReceiveAsync();
            if (!open)
            {
                throw new IOException("closed while creating the group");
            }
            switch (ServerMessageReader.Read(new ReadOnlySequence<byte>(frame)))
            {
                case OkMessage { RequestId: 1 } ok:
                    return ok.Value;
                case ErrorMessage { RequestId: 1 } error:
                    throw new InvalidOperationException($"CreateGroup refused: {error.Code} {error.Text}");
            }
        }
    }

    /// <summary>Deliveries per member; the sender waits on <see cref="Progress"/> and paces by the slowest member's count.</summary>
    private sealed class GroupProgress(int members, Counter total) : IDeliveryProgress
    {
        private readonly long[] _delivered = new long[members];

        public SemaphoreSlim Progress { get; } = new(0);

        public long Delivered => SlowestDelivered();

        private long SlowestDelivered()
        {
            long slowest = long.MaxValue;
            for (int i = 0; i < _delivered.Length; i++)
            {
                slowest = Math.Min(slowest, Volatile.Read(ref _delivered[i]));
            }
            return slowest;
        }

        public sealed class Member(GroupProgress progress, int index) : IInbound
        {
            public void OnAck()
            {
            }

            public void OnDeliver(ReadOnlySpan<byte> body)
            {
                Interlocked.Increment(ref progress._delivered[index]);
                progress._total.OnDeliver(body);
            }

            public void OnBatchEnd()
            {
                if (progress.Progress.CurrentCount == 0)
                {
                    progress.Progress.Release();
                }
            }
        }

        private readonly Counter _total = total;
    }
}
