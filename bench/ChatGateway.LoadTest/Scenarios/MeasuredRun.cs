using System.Globalization;
using ChatGateway.LoadTest.Targets;
using ChatGateway.Storage;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// What `pairs`, `rate` and `group` share: a fresh server with the gateway's rate limits lifted, one worker in the
/// given mode, the server's CPU seconds between the worker's MEASURE-START and MEASURE-END, and its RESULT line.
/// </summary>
public static class MeasuredRun
{
    /// <summary>The gateway's rate limits are lifted: these scenarios measure throughput, not policing.</summary>
    public static readonly string[] Unlimited =
    [
        "--Chat:RateMessagesPerSecond", "1000000000", "--Chat:RateMessagesBurst", "1000000000",
        "--Chat:RateBytesPerSecond", "1000000000000", "--Chat:RateBytesBurst", "1000000000000",
    ];

    /// <summary>
    /// Runs worker <paramref name="mode"/> KIND PORT SECRET <paramref name="workerArgs"/> against a fresh <paramref name="kind"/>
    /// server. For the gateway in Commit mode also how long its batches waited for their commits in the measured window
    /// (from <c>/metrics</c>), so a reader can tell the disk's part of the latency from the rest.
    /// </summary>
    public static async Task<Measurement> RunAsync(ServerKind kind, string secret, string mode, params double[] workerArgs)
    {
        await using ServerUnderTest server = await ServerUnderTest.StartAsync(kind, secret, Unlimited);
        await using WorkerProcess worker = WorkerProcess.Start(
            [mode, kind.Id(), server.Port.ToString(CultureInfo.InvariantCulture), secret, .. workerArgs.Select(a => a.ToString(CultureInfo.InvariantCulture))]);
        await worker.WaitForAsync("MEASURE-START", TimeSpan.FromMinutes(3));
        double cpuStart = server.CpuSeconds();
        CpuSteal? stealStart = CpuSteal.Read();
        DurationSnapshot? commitWaitsStart = await server.CommitWaitsAsync();
        await worker.WaitForAsync("MEASURE-END", TimeSpan.FromMinutes(10));
        double serverCpu = server.CpuSeconds() - cpuStart;
        CpuSteal? stealEnd = CpuSteal.Read();
        DurationSnapshot? commitWaits = (await server.CommitWaitsAsync())?.Since(commitWaitsStart!);
        var result = new ResultLine(await worker.WaitForAsync("RESULT", TimeSpan.FromMinutes(1)));
        return new Measurement(result, serverCpu, commitWaits is { Count: > 0 } ? commitWaits : null,
            stealStart is null ? null : stealEnd?.ShareSince(stealStart, Cores.Server),
            stealStart is null ? null : stealEnd?.ShareSince(stealStart, Cores.Load));
    }

    /// <summary>
    /// What a measured run gives: the worker's RESULT line, the server's CPU seconds, its commit waits (or null), and
    /// the share of each pinned core's time the hypervisor took in the window (null where unknown).
    /// </summary>
    public sealed record Measurement(ResultLine Result, double ServerCpuSeconds, DurationSnapshot? CommitWaits,
        double? ServerCoreSteal, double? LoadCoreSteal)
    {
        /// <summary>", steal a% / b% (server / load core)" for the console line; empty where unknown.</summary>
        public string StealText => ServerCoreSteal is { } server && LoadCoreSteal is { } load
            ? $", steal {server * 100:F0}% / {load * 100:F0}% (server / load core)"
            : "";

        /// <summary>Adds serverCoreStealShare and loadCoreStealShare to a record, where known.</summary>
        public Dictionary<string, object> WithSteal(Dictionary<string, object> record)
        {
            if (ServerCoreSteal is { } server && LoadCoreSteal is { } load)
            {
                record["serverCoreStealShare"] = Math.Round(server, 3);
                record["loadCoreStealShare"] = Math.Round(load, 3);
            }
            return record;
        }

        /// <summary>", N commits waited p50 ≤ X ms, p99 ≤ Y ms" for the console line; empty without commit waits.</summary>
        public string CommitWaitsText => CommitWaits is { } waits
            ? $", {waits.Count:N0} commits waited p50 ≤ {Millis(waits.QuantileUpperBoundMicros(0.5))} ms, p99 ≤ {Millis(waits.QuantileUpperBoundMicros(0.99))} ms"
            : "";

        /// <summary>Adds commits, commitWaitMeanMs, commitWaitP50Ms and commitWaitP99Ms (bucket upper bounds) to a record.</summary>
        public Dictionary<string, object> WithCommitWaits(Dictionary<string, object> record)
        {
            if (CommitWaits is { } waits)
            {
                record["commits"] = waits.Count;
                record["commitWaitMeanMs"] = Math.Round(waits.TotalMicros / 1000.0 / waits.Count, 3);
                record["commitWaitP50Ms"] = Millis(waits.QuantileUpperBoundMicros(0.5));
                record["commitWaitP99Ms"] = Millis(waits.QuantileUpperBoundMicros(0.99));
            }
            return record;
        }

        private static double Millis(long micros) => micros / 1000.0;
    }
}
