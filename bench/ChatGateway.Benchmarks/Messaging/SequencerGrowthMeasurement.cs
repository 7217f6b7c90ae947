using System.Diagnostics;
using ChatGateway.Storage;

namespace ChatGateway.Benchmarks.Messaging;

/// <summary>
/// `./run.sh bench growth [seconds] [commit]`: one sequencer shard's sustained rate as its store fills.
/// <see cref="SequencerBenchmarks.SendPipelined"/> in a loop for the given time (default 60 s, Relaxed unless
/// "commit"), printing every 5 s the messages stored, the rate over those 5 s, and the index's buckets and
/// overflow buckets. Every message adds two index keys, and once the overflow buckets outnumber the table each
/// index operation walks a chain: the curve this prints is why the one-shard figure depends on the store's size
/// (bench/results/micro-chat.md, session 8). BenchmarkDotNet would report one mean over all of it.
/// </summary>
internal static class SequencerGrowthMeasurement
{
    private const int MessagesPerInvocation = 4096;

    public static async Task<int> RunAsync(string[] args)
    {
        double seconds = args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 60;
        DurabilityMode durability = args.Length > 2 && args[2].Equals("commit", StringComparison.OrdinalIgnoreCase) ? DurabilityMode.Commit : DurabilityMode.Relaxed;
        var benchmark = new SequencerBenchmarks { Durability = durability };
        benchmark.Setup();
        try
        {
            Console.WriteLine($"One sequencer shard, {durability}, {MessagesPerInvocation:N0}-message invocations with as many in flight, for {seconds:F0} s");
            Console.WriteLine("messages stored | msgs/s over the last 5 s | index buckets | overflow buckets");
            var total = Stopwatch.StartNew();
            var lap = Stopwatch.StartNew();
            long sent = 0;
            long lapStart = 0;
            while (total.Elapsed.TotalSeconds < seconds)
            {
                await benchmark.SendPipelined();
                sent += MessagesPerInvocation;
                if (lap.Elapsed.TotalSeconds >= 5)
                {
                    StoreStats stats = benchmark.Store.Stats;
                    Console.WriteLine($"{stats.Records,15:N0} | {(sent - lapStart) / lap.Elapsed.TotalSeconds,24:N0} | {stats.IndexBuckets,13:N0} | {stats.IndexOverflowBuckets,16:N0}");
                    lapStart = sent;
                    lap.Restart();
                }
            }
            Console.WriteLine($"overall: {sent / total.Elapsed.TotalSeconds:N0} msgs/s");
        }
        finally
        {
            benchmark.Cleanup();
        }
        return 0;
    }
}
