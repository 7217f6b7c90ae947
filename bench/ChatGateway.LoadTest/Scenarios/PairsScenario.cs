using System.Globalization;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// `pairs`: PAIRS sender→receiver pairs, each sender keeping WINDOW 100-byte messages in flight; delivered
/// messages/s, the server's CPU share, and delivered messages per server CPU-second (robust to a saturated
/// load generator, whose own CPU share is reported next to it).
/// </summary>
public static class PairsScenario
{
    public static async Task<Dictionary<string, object>> RunAsync(string durability, int pairs, int window, double warmup, double seconds, string secret)
    {
        string[] settings =
        [
            "--Storage:Durability", durability, "--Chat:RateMessagesPerSecond", "1000000000", "--Chat:RateMessagesBurst", "1000000000",
            "--Chat:RateBytesPerSecond", "1000000000000", "--Chat:RateBytesBurst", "1000000000000",
        ];
        await using ServerUnderTest server = await ServerUnderTest.StartAsync(secret, settings);
        await using WorkerProcess worker = WorkerProcess.Start("worker-pairs", server.Port.ToString(CultureInfo.InvariantCulture), secret,
            pairs.ToString(CultureInfo.InvariantCulture), window.ToString(CultureInfo.InvariantCulture),
            warmup.ToString(CultureInfo.InvariantCulture), seconds.ToString(CultureInfo.InvariantCulture));
        await worker.WaitForAsync("MEASURE-START", TimeSpan.FromMinutes(2));
        double cpuStart = server.CpuSeconds();
        await worker.WaitForAsync("MEASURE-END", TimeSpan.FromMinutes(10));
        double serverCpu = server.CpuSeconds() - cpuStart;
        string result = await worker.WaitForAsync("RESULT", TimeSpan.FromMinutes(1));
        Dictionary<string, string> fields = result.Split(' ').Skip(1).Select(f => f.Split('=')).ToDictionary(f => f[0], f => f[1]);
        long delivered = long.Parse(fields["delivered"], CultureInfo.InvariantCulture);
        double elapsed = double.Parse(fields["seconds"], CultureInfo.InvariantCulture);
        double loadCpu = double.Parse(fields["loadCpu"], CultureInfo.InvariantCulture);
        double perSecond = delivered / elapsed;
        double perCpuSecond = serverCpu > 0 ? delivered / serverCpu : 0;
        Console.WriteLine($"pairs ({durability}, {pairs} pairs, window {window}): {perSecond:N0} delivered/s, server CPU {serverCpu / elapsed * 100:F0}% of a core, " +
                          $"load CPU {loadCpu / elapsed * 100:F0}%, {perCpuSecond:N0} delivered per server CPU-second");
        return new Dictionary<string, object>
        {
            ["scenario"] = "pairs",
            ["server"] = "ChatGateway",
            ["durability"] = durability,
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
