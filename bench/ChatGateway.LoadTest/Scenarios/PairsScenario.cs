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
    /// <summary>The gateway's rate limits are lifted: this scenario measures throughput, not policing.</summary>
    public static readonly string[] Unlimited =
    [
        "--Chat:RateMessagesPerSecond", "1000000000", "--Chat:RateMessagesBurst", "1000000000",
        "--Chat:RateBytesPerSecond", "1000000000000", "--Chat:RateBytesBurst", "1000000000000",
    ];

    public static async Task<Dictionary<string, object>> RunAsync(ServerKind kind, int pairs, int window, double warmup, double seconds, string secret)
    {
        await using ServerUnderTest server = await ServerUnderTest.StartAsync(kind, secret, Unlimited);
        await using WorkerProcess worker = WorkerProcess.Start("worker-pairs", kind.Id(), server.Port.ToString(CultureInfo.InvariantCulture), secret,
            pairs.ToString(CultureInfo.InvariantCulture), window.ToString(CultureInfo.InvariantCulture),
            warmup.ToString(CultureInfo.InvariantCulture), seconds.ToString(CultureInfo.InvariantCulture));
        await worker.WaitForAsync("MEASURE-START", TimeSpan.FromMinutes(2));
        double cpuStart = server.CpuSeconds();
        await worker.WaitForAsync("MEASURE-END", TimeSpan.FromMinutes(10));
        double serverCpu = server.CpuSeconds() - cpuStart;
        var result = new ResultLine(await worker.WaitForAsync("RESULT", TimeSpan.FromMinutes(1)));
        long delivered = result.Long("delivered");
        double elapsed = result.Double("seconds");
        double loadCpu = result.Double("loadCpu");
        double perSecond = delivered / elapsed;
        double perCpuSecond = serverCpu > 0 ? delivered / serverCpu : 0;
        Console.WriteLine($"pairs [{kind.Name()}] ({pairs} pairs, window {window}): {perSecond:N0} delivered/s, server CPU {serverCpu / elapsed * 100:F0}% of a core, " +
                          $"load CPU {loadCpu / elapsed * 100:F0}%, {perCpuSecond:N0} delivered per server CPU-second");
        return new Dictionary<string, object>
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
        };
    }
}
