using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.ExceptionServices;
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
/// One thread paces and receives, as wrk2's event loop does: it sends whatever is due, then waits for input until
/// the next message is due (<see cref="ReceivePoller.Poll"/>). Until session 21 a pacer thread (sleeping 50 µs steps)
/// and a receiving thread shared the generator's one core. Against the raw TCP relay, interleaved rounds, the one loop
/// measured send lag p99 0.10–0.15 ms against 0.37–0.42 ms, and latency p99 0.69–4.09 ms against 2.51–8.71 ms.
/// </para>
/// <para>
/// The generator's own part is still measured beside the latency: a message's <i>send lag</i> is from its due time
/// until the send that carried it returned (the loop came back late, or the send call was slow).
/// </para>
/// </summary>
public static class RateWorker
{
    public static async Task<int> RunAsync(string[] args)
    {
        LoadConnection.BlockingSockets = true; // sent and received by this worker's one thread: see BlockingSockets
        Wire wire = Wire.For(ServerKinds.Parse(args[1]), args[3]);
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(args[2], CultureInfo.InvariantCulture));
        int pairs = int.Parse(args[4], CultureInfo.InvariantCulture);
        double rate = double.Parse(args[5], CultureInfo.InvariantCulture);
        double warmup = double.Parse(args[6], CultureInfo.InvariantCulture);
        double measure = double.Parse(args[7], CultureInfo.InvariantCulture);
        (LoadConnection[] senders, LoadConnection[] receivers) = await Workers.ConnectPairsAsync(wire, server, pairs);
        RateOutcome outcome = Measure(wire, senders, receivers, rate, warmup, measure);
        LongHistogram h = outcome.Latency;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"RESULT sent={outcome.Sent} delivered={h.TotalCount} seconds={measure:F3} loadCpu={outcome.LoadCpu:F3} p50us={h.GetValueAtPercentile(50)} p99us={h.GetValueAtPercentile(99)} p999us={h.GetValueAtPercentile(99.9)} maxus={h.GetMaxValue()} " +
            $"sendLagP99us={outcome.SendLag.GetValueAtPercentile(99)} sendLagP999us={outcome.SendLag.GetValueAtPercentile(99.9)}"));
        foreach (LoadConnection connection in senders.Concat(receivers))
        {
            connection.Dispose();
        }
        return 0;
    }

    /// <summary>What one run measured: messages due in the window, their delivery latencies and send lags (µs), the generator's CPU seconds.</summary>
    public sealed record RateOutcome(long Sent, LongHistogram Latency, LongHistogram SendLag, double LoadCpu);

    /// <summary>
    /// Runs the schedule over connected pairs (connected with <see cref="LoadConnection.BlockingSockets"/> set) on a
    /// thread of its own, and returns once the window's deliveries arrived or 2 s after it ended.
    /// </summary>
    public static RateOutcome Measure(Wire wire, LoadConnection[] senders, LoadConnection[] receivers, double rate, double warmup, double measure)
    {
        RateOutcome? outcome = null;
        ExceptionDispatchInfo? failure = null;
        var loop = new Thread(() =>
        {
            try
            {
                outcome = Run(wire, senders, receivers, rate, warmup, measure);
            }
            catch (Exception ex)
            {
                failure = ExceptionDispatchInfo.Capture(ex);
            }
        })
        {
            IsBackground = true,
            Name = "pacer and receiver",
        };
        loop.Start();
        loop.Join();
        failure?.Throw();
        return outcome!;
    }

    /// <summary>
    /// The schedule: message n is due at start + n/rate and goes to pair n % PAIRS. Each turn sends whatever is due,
    /// one send per connection touched, then receives until the next message is due. After the window, receives the
    /// window's last deliveries (for at most 2 s).
    /// </summary>
    private static RateOutcome Run(Wire wire, LoadConnection[] senders, LoadConnection[] receivers, double rate, double warmup, double measure)
    {
        long start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
        long windowStart = start + (long)(warmup * Stopwatch.Frequency);
        long windowEnd = windowStart + (long)(measure * Stopwatch.Frequency);
        var latencies = new Latencies(windowStart, windowEnd);
        var acks = new Counter();
        using var receiving = new ReceivePoller(wire);
        foreach (LoadConnection receiver in receivers)
        {
            receiving.Add(receiver, latencies);
        }
        foreach (LoadConnection sender in senders)
        {
            receiving.Add(sender, acks);
        }

        using var self = Process.GetCurrentProcess();
        double cpuStart = 0;
        var sendLag = new LongHistogram(60_000_000, 3);
        long[] roundDues = new long[1024]; // the window's messages appended and not yet handed to the kernel
        int roundCount = 0;
        byte[] body = new byte[100];
        var scratch = new ArrayBufferWriter<byte>(256);
        bool[] unsent = new bool[senders.Length]; // appended frames the socket has not taken yet
        double ticksPerMessage = Stopwatch.Frequency / rate;
        double nanosecondsPerTick = 1e9 / Stopwatch.Frequency;
        long sent = 0;
        long inWindow = 0;
        bool measuring = false;
        while (true)
        {
            long now = Stopwatch.GetTimestamp();
            if (!measuring && now >= windowStart)
            {
                measuring = true;
                self.Refresh();
                cpuStart = self.TotalProcessorTime.TotalSeconds;
                Console.WriteLine("MEASURE-START");
            }
            if (now >= windowEnd)
            {
                break;
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
                unsent[pair] = true;
                if (due >= windowStart && due < windowEnd)
                {
                    inWindow++;
                    if (roundCount == roundDues.Length)
                    {
                        Array.Resize(ref roundDues, roundDues.Length * 2); // a stalled loop catching up
                    }
                    roundDues[roundCount++] = due;
                }
                sent++;
            }
            bool allSent = true;
            for (int i = 0; i < senders.Length; i++)
            {
                if (unsent[i])
                {
                    unsent[i] = !senders[i].TrySendBuffered(); // a full socket keeps the rest for the next turn
                    allSent &= !unsent[i];
                }
            }
            long handedOver = Stopwatch.GetTimestamp();
            if (allSent)
            {
                for (int i = 0; i < roundCount; i++)
                {
                    sendLag.RecordValue(Math.Min(60_000_000, Math.Max(0, (handedOver - roundDues[i]) * 1_000_000 / Stopwatch.Frequency)));
                }
                roundCount = 0;
            }
            long nextDue = start + (long)(sent * ticksPerMessage);
            long wait = allSent ? Math.Max(0, (long)((nextDue - handedOver) * nanosecondsPerTick)) : 50_000;
            receiving.Poll(wait);
        }
        self.Refresh();
        double loadCpu = self.TotalProcessorTime.TotalSeconds - cpuStart;
        Console.WriteLine("MEASURE-END");
        // Deliveries of the window's last messages are still on their way: receive them, a bounded time.
        long deadline = Stopwatch.GetTimestamp() + 2 * Stopwatch.Frequency;
        while (latencies.Count < inWindow && Stopwatch.GetTimestamp() < deadline)
        {
            receiving.Poll(10_000_000);
        }
        return new RateOutcome(inWindow, latencies.Histogram, sendLag, loadCpu);
    }

    /// <summary>Delivery latencies of the messages due inside the window, in microseconds (the loop's thread only).</summary>
    private sealed class Latencies(long windowStart, long windowEnd) : IInbound
    {
        public LongHistogram Histogram { get; } = new(60_000_000, 3);

        public long Count => Histogram.TotalCount;

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
            Histogram.RecordValue(Math.Min(micros, 60_000_000));
        }
    }
}
