using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using ChatGateway.LoadTest.Client;
using ChatGateway.LoadTest.Targets;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// The load processes of `idle` and `pairs`, for any server (<see cref="Wire"/>). A worker talks to the
/// coordinator through stdout lines ("CONNECTED n", "MEASURE-START", "MEASURE-END", "RESULT ...") and stops when
/// its stdin closes. Spreading connections over workers keeps each process under the 20,000 open-files limit.
/// </summary>
public static class Workers
{
    /// <summary>Connections an idle worker opens at once: the handshake latency it reports is under this many in flight.</summary>
    public const int ConnectsInFlight = 64;

    /// <summary>
    /// worker-idle KIND PORT SECRET FIRST_USER COUNT [SOURCE_ADDRESS]: COUNT idle sessions heartbeating every 24 s. Prints
    /// "CONNECTED count ms handshakes", the last the µs of each connection's handshake (int32s, base64).
    /// </summary>
    public static async Task<int> IdleAsync(string[] args)
    {
        (Wire wire, IPEndPoint server) = Target(args);
        long first = long.Parse(args[4], CultureInfo.InvariantCulture);
        int count = int.Parse(args[5], CultureInfo.InvariantCulture);
        if (args.Length > 6 && OperatingSystem.IsLinux()) // IP_BIND_ADDRESS_NO_PORT (LoadConnection.SourceAddress) is Linux's
        {
            LoadConnection.SourceAddress = IPAddress.Parse(args[6]);
        }
        var connections = new LoadConnection[count];
        var handshakeMicros = new int[count]; // each connection's TCP connect and upgrade, until the server's 101
        var started = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = ConnectsInFlight }, async (i, ct) =>
        {
            long start = Stopwatch.GetTimestamp();
            connections[i] = await wire.ConnectAsync(server, first + i, ct);
            handshakeMicros[i] = (int)Math.Min(int.MaxValue, Stopwatch.GetElapsedTime(start).Ticks / TimeSpan.TicksPerMicrosecond);
        });
        // The coordinator merges every worker's handshakes of a step into one histogram: raw values, not percentiles.
        string handshakes = Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(handshakeMicros.AsSpan()));
        Console.WriteLine($"CONNECTED {count} {started.Elapsed.TotalMilliseconds:F0} {handshakes}");
        using var stop = new CancellationTokenSource();
        var ignore = new Counter();
        Task[] readers = [.. connections.Select(c => Task.Run(() => ReceiveLoopAsync(c, wire, ignore, stop.Token)))];
        Task heartbeats = HeartbeatAsync(connections, wire, TimeSpan.FromSeconds(24), stop.Token);
        await Console.In.ReadLineAsync(); // the coordinator closes stdin to stop us
        stop.Cancel();
        foreach (LoadConnection connection in connections)
        {
            connection.Dispose();
        }
        return 0;
    }

    /// <summary>Reads frames until the connection ends, handing each to the wire's reader.</summary>
    public static async Task ReceiveLoopAsync(LoadConnection connection, Wire wire, IInbound inbound, CancellationToken stop)
    {
        try
        {
            while (true)
            {
                (bool open, ReadOnlyMemory<byte> frame) = await connection.ReceiveAsync(stop);
                if (!open)
                {
                    return;
                }
                wire.Read(connection, frame, inbound);
                while (connection.TryReceiveBuffered(out frame))
                {
                    wire.Read(connection, frame, inbound);
                }
                inbound.OnBatchEnd();
            }
        }


        catch (Exception ex) when (ex is OperationCanceledException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Every connection sends a heartbeat once per interval, spread evenly over it.</summary>
    private static async Task HeartbeatAsync(LoadConnection[] connections, Wire wire, TimeSpan interval, CancellationToken stop)
    {
        var heartbeat = new ArrayBufferWriter<byte>();
        wire.WriteHeartbeat(heartbeat);
        try
        {
            TimeSpan gap = interval / Math.Max(1, connections.Length);
            while (!stop.IsCancellationRequested)
            {
                foreach (LoadConnection connection in connections)
                {
                    connection.Append(heartbeat.WrittenSpan);
                    await connection.FlushAsync(stop);
                    if (gap >= TimeSpan.FromMilliseconds(1))
                    {
                        await Task.Delay(gap, stop);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// worker-pairs KIND PORT SECRET PAIRS WINDOW WARMUP_S MEASURE_S: PAIRS senders each keep up to WINDOW 100-byte
    /// messages on their way to their own receiver (a 1:1 conversation). The window closes end to end: a slot is
    /// freed when the receiver got the message, not when the server acked it, so no server can run ahead of its
    /// consumers (the gateway would rightly close a receiver that falls 4,096 frames behind). Acks are read and
    /// counted on their own. Prints the deliveries counted between MEASURE-START and MEASURE-END.
    /// </summary>
    public static async Task<int> PairsAsync(string[] args)
    {
        (Wire wire, IPEndPoint server) = Target(args);
        int pairs = int.Parse(args[4], CultureInfo.InvariantCulture);
        int window = int.Parse(args[5], CultureInfo.InvariantCulture);
        TimeSpan warmup = TimeSpan.FromSeconds(double.Parse(args[6], CultureInfo.InvariantCulture));
        TimeSpan measure = TimeSpan.FromSeconds(double.Parse(args[7], CultureInfo.InvariantCulture));
        (LoadConnection[] senders, LoadConnection[] receivers) = await ConnectPairsAsync(wire, server, pairs);
        var delivered = new Counter();
        var acked = new Counter();
        PairWindow[] windows = [.. Enumerable.Range(0, pairs).Select(_ => new PairWindow(delivered))];
        using var stop = new CancellationTokenSource();
        Task[] receiving = [.. receivers.Select((r, i) => Task.Run(() => ReceiveLoopAsync(r, wire, windows[i], stop.Token)))];
        Task[] draining = [.. senders.Select(s => Task.Run(() => ReceiveLoopAsync(s, wire, acked, stop.Token)))];
        byte[] body = new byte[100];
        Task[] sending = [.. senders.Select((s, i) => Task.Run(() =>
            WindowedSendLoopAsync(s, windows[i], window, (output, id) => wire.WriteSend(output, ReceiverOf(i), id, body), stop.Token)))];

        await Task.Delay(warmup);
        (long deliveredEnd, long deliveredStart, double seconds, double cpu) = await MeasureAsync(() => delivered.Delivers, measure);
        Console.WriteLine(FormattableString.Invariant($"RESULT delivered={deliveredEnd - deliveredStart} seconds={seconds:F3} loadCpu={cpu:F3} acked={acked.Acks}"));
        stop.Cancel();
        foreach (LoadConnection connection in senders.Concat(receivers))
        {
            connection.Dispose();
        }
        return 0;
    }

    public static long SenderOf(int pair) => 100_000 + pair;

    public static long ReceiverOf(int pair) => 200_000 + pair;

    /// <summary>Connects every receiver first, so no early send finds its recipient offline.</summary>
    public static async Task<(LoadConnection[] Senders, LoadConnection[] Receivers)> ConnectPairsAsync(Wire wire, IPEndPoint server, int pairs)
    {
        var senders = new LoadConnection[pairs];
        var receivers = new LoadConnection[pairs];
        for (int i = 0; i < pairs; i++)
        {
            receivers[i] = await wire.ConnectAsync(server, ReceiverOf(i), CancellationToken.None);
        }
        for (int i = 0; i < pairs; i++)
        {
            senders[i] = await wire.ConnectAsync(server, SenderOf(i), CancellationToken.None);
        }
        return (senders, receivers);
    }

    /// <summary>Prints MEASURE-START, waits <paramref name="measure"/>, prints MEASURE-END; the counter at both ends, the elapsed time and this process's CPU seconds.</summary>
    public static async Task<(long End, long Start, double Seconds, double LoadCpu)> MeasureAsync(Func<long> counter, TimeSpan measure)
    {
        using var self = Process.GetCurrentProcess();
        double cpuStart = self.TotalProcessorTime.TotalSeconds;
        long start = counter();
        Console.WriteLine("MEASURE-START");
        var clock = Stopwatch.StartNew();
        await Task.Delay(measure);
        long end = counter();
        double seconds = clock.Elapsed.TotalSeconds;
        self.Refresh();
        double cpu = self.TotalProcessorTime.TotalSeconds - cpuStart;
        Console.WriteLine("MEASURE-END");
        return (end, start, seconds, cpu);
    }

    /// <summary>
    /// Keeps up to <paramref name="window"/> messages undelivered, end to end: refills when the receivers report
    /// progress, all free slots in one flush; <paramref name="writeSend"/> encodes the send with the given id. A
    /// message the server dropped would hold its slot forever, so after a second without progress the
    /// undelivered ones are written off (nothing may be lost, but the run must not hang).
    /// </summary>
    public static async Task WindowedSendLoopAsync(LoadConnection sender, IDeliveryProgress progress, int window,
        Action<ArrayBufferWriter<byte>, long> writeSend, CancellationToken stop)
    {
        var scratch = new ArrayBufferWriter<byte>(256);
        long sent = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                long free = window - (sent - progress.Delivered);
                for (; free > 0; free--)
                {
                    scratch.ResetWrittenCount();
                    writeSend(scratch, ++sent);
                    sender.Append(scratch.WrittenSpan);
                }
                if (sender.Pending > 0)
                {
                    await sender.FlushAsync(stop);
                }
                if (!await progress.Progress.WaitAsync(1000, stop))
                {
                    sent = progress.Delivered;
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
        }
    }

    private static (Wire, IPEndPoint) Target(string[] args) =>
        (Wire.For(ServerKinds.Parse(args[1]), args[3]), new IPEndPoint(IPAddress.Loopback, int.Parse(args[2], CultureInfo.InvariantCulture)));
}
