using System.Globalization;
using ChatGateway.LoadTest.Targets;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// `pairs`: PAIRS sender→receiver pairs, each sender keeping WINDOW 100-byte messages in flight; delivered
/// messages/s, the server's CPU share, and delivered messages per server CPU-second (robust to a saturated
/// load generator, whose own CPU share is reported next to it).
/// </summary>
public static class PairsScenario
{
    public static async Task<Dictionary<string, object>> RunAsync(ServerKind kind, int pairs, int window, double warmup, double seconds, string secret)
    {
        MeasuredRun.Measurement measured = await MeasuredRun.RunAsync(kind, secret, "worker-pairs", pairs, window, warmup, seconds);
        (ResultLine result, double serverCpu, _, _, _) = measured;
        long delivered = result.Long("delivered");
        double elapsed = result.Double("seconds");
        double loadCpu = result.Double("loadCpu");
        double perSecond = delivered / elapsed;
        double perCpuSecond = serverCpu > 0 ? delivered / serverCpu : 0;
        Console.WriteLine($"pairs [{kind.Name()}] ({pairs} pairs, window {window}): {perSecond:N0} delivered/s, server CPU {serverCpu / elapsed * 100:F0}% of a core, " +
                          $"load CPU {loadCpu / elapsed * 100:F0}%, {perCpuSecond:N0} delivered per server CPU-second{measured.CommitWaitsText}{measured.StealText}");
        return measured.WithSteal(measured.WithCommitWaits(new Dictionary<string, object>
        {
            ["scenario"] = "pairs",
            ["server"] = kind.Id(),
            ["serverName"] = kind.Name(),
            ["pairs"] = pairs,
            ["window"] = window,
            ["seconds"] = Math.Round(elapsed, 2),
            ["deliveredPerSecond"] = Math.Round(perSecond),
            ["serverCpuShare"] = Math.Round(serverCpu / elapsed, 3),
            ["loadCpuShare"] = Math.Round(loadCpu / elapsed, 3),
            ["deliveredPerServerCpuSecond"] = Math.Round(perCpuSecond),
        }));
    }
}
