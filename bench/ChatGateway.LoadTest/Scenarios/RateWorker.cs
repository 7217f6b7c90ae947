using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using ChatGateway.LoadTest.Client;
using ChatGateway.LoadTest.Targets;
using HdrHistogram;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// worker-rate KIND PORT SECRET PAIRS RATE WARMUP_S MEASURE_S: an open-loop load of RATE messages/s spread over
/// PAIRS sender→receiver pairs, whatever the server's answers. Each body carries the time its message was
/// <i>due</i> on the schedule, not the time it left, so a stalled server (or a stalled generator) shows up in the
/// latency instead of silently lowering the rate (coordinated omission). Latency = delivery time − due time,
/// recorded in an HdrHistogram (µs) for messages due inside the measurement window.
/// <para>
/// The generator's own part is measured beside it: a message's <i>send lag</i> is from its due time until the flush
/// that carried it returned (the pacer woke late, or the send call was slow). No server's latency can be told apart
/// from it: on this VM its p99 measured 1–5 ms in runs whose latency p99s were 6–18 ms (session 20).
/// </para>
/// </summary>
public static class RateWorker
{
    [DllImport("libc", SetLastError = false)]
    private static extern int usleep(uint microseconds);

    public static async Task<int> RunAsync(string[] args)
    {
        LoadConnection.BlockingSockets = true; // read by one ReceivePoller, sent by the pacer: see BlockingSockets
        Wire wire = Wire.For(ServerKinds.Parse(args[1]), args[3]);
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(args[2], CultureInfo.InvariantCulture));
        int pairs = int.Parse(args[4], CultureInfo.InvariantCulture);
        double rate = double.Parse(args[5], CultureInfo.InvariantCulture);
        double warmup = double.Parse(args[6], CultureInfo.InvariantCulture);
        double measure = double.Parse(args[7], CultureInfo.InvariantCulture);
        (LoadConnection[] senders, LoadConnection[] receivers) = await Workers.ConnectPairsAsync(wire, server, pairs);

        long start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
        long windowStart = start + (long)(warmup * Stopwatch.Frequency);
        long windowEnd = windowStart + (long)(measure * Stopwatch.Frequency);
        var latencies = new Latencies(windowStart, windowEnd);
        var acks = new Counter();
        // One thread receives for every connection (deliveries and acks): see ReceivePoller for why.
        using var receiving = new ReceivePoller(wire);
        foreach (LoadConnection receiver in receivers)
        {
            receiving.Add(receiver, latencies);
        }
        foreach (LoadConnection sender in senders)
        {
            receiving.Add(sender, acks);
        }
        receiving.Start();

        using var self = Process.GetCurrentProcess();
        double cpuStart = 0;
        long sentInWindow = 0;
        var sendLag = new LongHistogram(60_000_000, 3); // the pacer's alone: read after it has ended
        var pacer = new Thread(() => sentInWindow = Pace(wire, senders, rate, start, windowStart, windowEnd, sendLag, ref cpuStart))
        {
            IsBackground = true,
            Priority = ThreadPriority.AboveNormal,
            Name = "pacer",
        };
        pacer.Start();
        pacer.Join();
        self.Refresh();
        double loadCpu = self.TotalProcessorTime.TotalSeconds - cpuStart;
        Console.WriteLine("MEASURE-END");
        // Deliveries of the window's last messages are still on their way: wait for them, a bounded time.
        long deadline = Stopwatch.GetTimestamp() + 2 * Stopwatch.Frequency;
        while (latencies.Count < sentInWindow && Stopwatch.GetTimestamp() < deadline)
        {
            await Task.Delay(10);
        }
        LongHistogram h = latencies.Snapshot();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT sent={sentInWindow} delivered={h.TotalCount} seconds={measure:F3} loadCpu={loadCpu:F3} p50us={h.GetValueAtPercentile(50)} p99us={h.GetValueAtPercentile(99)} p999us={h.GetValueAtPercentile(99.9)} maxus={h.GetMaxValue()} " +
            $"sendLagP99us={sendLag.GetValueAtPercentile(99)} sendLagP999us={sendLag.GetValueAtPercentile(99.9)}"));
        receiving.Dispose();
        foreach (LoadConnection connection in senders.Concat(receivers))
        {
            connection.Dispose();
        }
        return 0;
    }

    /// <summary>
    /// The schedule: message n is due at start + n/rate and goes to pair n % PAIRS. The pacer sends whatever is due,
    /// one flush per connection touched, then sleeps ~50 µs (usleep: Thread.Sleep has millisecond steps, which
    /// would add up to a millisecond of the generator's own delay to every figure). Returns the count due in the window;
    /// <paramref name="sendLag"/> gets each window message's lag from its due time to the end of its flush (µs).
    /// </summary>
    private static long Pace(Wire wire, LoadConnection[] senders, double rate, long start, long windowStart, long windowEnd,
        LongHistogram sendLag, ref double cpuStart)
    {
        long[] roundDues = new long[1024]; // the window's messages sent this round, to record once flushed
        int roundCount = 0;
        byte[] body = new byte[100];
        var scratch = new ArrayBufferWriter<byte>(256);
        bool[] touched = new bool[senders.Length];
        double ticksPerMessage = Stopwatch.Frequency / rate;
        long sent = 0;
        long inWindow = 0;
        bool measuring = false;
        while (true)
        {
            long now = Stopwatch.GetTimestamp();
            if (!measuring && now >= windowStart)
            {
                measuring = true;
                using var self = Process.GetCurrentProcess();
                cpuStart = self.TotalProcessorTime.TotalSeconds;
                Console.WriteLine("MEASURE-START");
            }
            if (now >= windowEnd)
            {
                return inWindow;
            }
            while (true)
            {
                long due = start + (long)(sent * ticksPerMessage);
                if (due > now)
                {
                    break;
                }
                int pair = (int)(sent % senders.Length);
                BinaryPrimitives.WriteInt64LittleEndian(body, due);
                scratch.ResetWrittenCount();
                wire.WriteSend(scratch, Workers.ReceiverOf(pair), sent / senders.Length + 1, body); // each sender counts its own sends, as SDK clients do
                senders[pair].Append(scratch.WrittenSpan);
                touched[pair] = true;
                if (due >= windowStart && due < windowEnd)
                {
                    inWindow++;
                    if (roundCount == roundDues.Length)
                    {
                        Array.Resize(ref roundDues, roundDues.Length * 2); // a stalled pacer catching up
                    }
                    roundDues[roundCount++] = due;
                }
                sent++;
            }
            for (int i = 0; i < senders.Length; i++)
            {
                if (touched[i])
                {
                    touched[i] = false;
                    ValueTask flush = senders[i].FlushAsync();
                    if (!flush.IsCompletedSuccessfully)
                    {
                        flush.AsTask().GetAwaiter().GetResult();
                    }
                }
            }
            long flushed = Stopwatch.GetTimestamp();
            for (int i = 0; i < roundCount; i++)
            {
                sendLag.RecordValue(Math.Min(60_000_000, Math.Max(0, (flushed - roundDues[i]) * 1_000_000 / Stopwatch.Frequency)));
            }
            roundCount = 0;
            usleep(50);
        }
    }

    /// <summary>Delivery latencies of the messages due inside the window, in microseconds.</summary>
    private sealed class Latencies(long windowStart, long windowEnd) : IInbound
    {
        private readonly LongHistogram _histogram = new(60_000_000, 3);
        private readonly Lock _lock = new();

        public long Count
        {
            get
            {
                lock (_lock)
                {
                    return _histogram.TotalCount;
                }
            }
        }

        public void OnAck()
        {
        }

        public void OnDeliver(ReadOnlySpan<byte> body)
        {
            long now = Stopwatch.GetTimestamp();
            if (body.Length < 8)
            {
                return;
            }
            long due = BinaryPrimitives.ReadInt64LittleEndian(body);
            if (due < windowStart || due >= windowEnd)
            {
                return;
            }
            long micros = Math.Max(0, (now - due) * 1_000_000 / Stopwatch.Frequency);
            lock (_lock)
            {
                _histogram.RecordValue(Math.Min(micros, 60_000_000));
            }
        }

        public LongHistogram Snapshot()
        {
            lock (_lock)
            {
                return (LongHistogram)_histogram.Copy();
            }
        }
    }
}
