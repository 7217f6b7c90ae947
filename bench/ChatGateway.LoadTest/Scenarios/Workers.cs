using System.Buffers;
using System.Diagnostics;
using System.Net;
using ChatGateway.LoadTest.Client;
using ChatGateway.Protocol;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// The load processes. A worker talks to the coordinator through stdout lines ("CONNECTED n", "MEASURE-START",
/// "MEASURE-END", "RESULT ...") and stops when its stdin closes. Spreading connections over workers keeps each
/// process under the 20,000 open-files limit.
/// </summary>
public static class Workers
{
    /// <summary>worker-idle PORT SECRET FIRST_USER COUNT: COUNT idle sessions heartbeating every 24 s.</summary>
    public static async Task<int> IdleAsync(string[] args)
    {
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(args[1]));
        var tokens = new Tokens(args[2]);
        long first = long.Parse(args[3]);
        int count = int.Parse(args[4]);
        var connections = new LoadConnection[count];
        var started = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
        {
            connections[i] = await LoadConnection.ConnectAsync(server, tokens.For(first + i), ct);
        });
        Console.WriteLine($"CONNECTED {count} {started.Elapsed.TotalMilliseconds:F0}");
        using var stop = new CancellationTokenSource();
        Task[] readers = [.. connections.Select(c => Task.Run(() => DrainAsync(c, stop.Token)))];
        Task heartbeats = HeartbeatAsync(connections, TimeSpan.FromSeconds(24), stop.Token);
        await Console.In.ReadLineAsync(); // the coordinator closes stdin to stop us
        stop.Cancel();
        foreach (LoadConnection connection in connections)
        {
            connection.Dispose();
        }
        return 0;
    }

    private static async Task DrainAsync(LoadConnection connection, CancellationToken stop)
    {
        try
        {
            while ((await connection.ReceiveAsync(stop)).Open)
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Every connection sends a Heartbeat once per interval, spread evenly over it.</summary>
    private static async Task HeartbeatAsync(LoadConnection[] connections, TimeSpan interval, CancellationToken stop)
    {
        byte[] heartbeat = Encode(w => ClientRequestWriter.Heartbeat(w, 1));
        try
        {
            TimeSpan gap = interval / Math.Max(1, connections.Length);
            while (!stop.IsCancellationRequested)
            {
                foreach (LoadConnection connection in connections)
                {
                    connection.Append(heartbeat);
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
    /// worker-pairs PORT SECRET PAIRS WINDOW WARMUP_S MEASURE_S: PAIRS senders each keep WINDOW 100-byte sends in
    /// flight to their own receiver (a 1:1 conversation). Prints the deliveries counted between MEASURE-START and MEASURE-END.
    /// </summary>
    public static async Task<int> PairsAsync(string[] args)
    {
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(args[1]));
        var tokens = new Tokens(args[2]);
        int pairs = int.Parse(args[3]);
        int window = int.Parse(args[4]);
        TimeSpan warmup = TimeSpan.FromSeconds(double.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture));
        TimeSpan measure = TimeSpan.FromSeconds(double.Parse(args[6], System.Globalization.CultureInfo.InvariantCulture));
        var senders = new LoadConnection[pairs];
        var receivers = new LoadConnection[pairs];
        for (int i = 0; i < pairs; i++)
        {
            senders[i] = await LoadConnection.ConnectAsync(server, tokens.For(100_000 + i));
            receivers[i] = await LoadConnection.ConnectAsync(server, tokens.For(200_000 + i));
        }
        long delivered = 0;
        long acked = 0;
        using var stop = new CancellationTokenSource();
        Task[] receiving = [.. receivers.Select(r => Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    (bool open, ReadOnlyMemory<byte> payload) = await r.ReceiveAsync(stop.Token);
                    if (!open)
                    {
                        return;
                    }
                    if (payload.Length > 1 && payload.Span[1] == (byte)MessageType.Deliver)
                    {
                        Interlocked.Increment(ref delivered);
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
            }
        }))];
        Task[] sending = [.. senders.Select((s, i) => Task.Run(() => SendLoopAsync(s, 200_000 + i, window, () => Interlocked.Increment(ref acked), stop.Token)))];

        await Task.Delay(warmup);
        var loadCpu = Process.GetCurrentProcess();
        double cpuStart = loadCpu.TotalProcessorTime.TotalSeconds;
        long deliveredStart = Interlocked.Read(ref delivered);
        Console.WriteLine("MEASURE-START");
        var clock = Stopwatch.StartNew();
        await Task.Delay(measure);
        long deliveredEnd = Interlocked.Read(ref delivered);
        double seconds = clock.Elapsed.TotalSeconds;
        loadCpu.Refresh();
        double cpu = loadCpu.TotalProcessorTime.TotalSeconds - cpuStart;
        Console.WriteLine("MEASURE-END");
        Console.WriteLine(FormattableString.Invariant($"RESULT delivered={deliveredEnd - deliveredStart} seconds={seconds:F3} loadCpu={cpu:F3} acked={Interlocked.Read(ref acked)}"));
        stop.Cancel();
        foreach (LoadConnection connection in senders.Concat(receivers))
        {
            connection.Dispose();
        }
        return 0;
    }

    private static async Task SendLoopAsync(LoadConnection sender, long receiver, int window, Action onAck, CancellationToken stop)
    {
        byte[] body = new byte[100];
        var scratch = new ArrayBufferWriter<byte>(160);
        int inFlight = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                while (inFlight < window)
                {
                    scratch.ResetWrittenCount();
                    ClientRequestWriter.Send(scratch, 1, 0, receiver, [], body);
                    sender.Append(scratch.WrittenSpan);
                    inFlight++;
                }
                await sender.FlushAsync(stop); // the window leaves in one send
                (bool open, ReadOnlyMemory<byte> payload) = await sender.ReceiveAsync(stop);
                if (!open)
                {
                    return;
                }
                byte type = payload.Length > 1 ? payload.Span[1] : (byte)0;
                if (type == (byte)MessageType.Ack || type == (byte)MessageType.Error)
                {
                    inFlight--;
                    onAck();
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
        }
    }

    public static byte[] Encode(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }
}
