using System.Globalization;
using ChatGateway.LoadTest.Targets;

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

    /// <summary>Runs worker <paramref name="mode"/> KIND PORT SECRET <paramref name="workerArgs"/> against a fresh <paramref name="kind"/> server.</summary>
    public static async Task<(ResultLine Result, double ServerCpuSeconds)> RunAsync(ServerKind kind, string secret, string mode, params double[] workerArgs)
    {
        await using ServerUnderTest server = await ServerUnderTest.StartAsync(kind, secret, Unlimited);
        await using WorkerProcess worker = WorkerProcess.Start(
            [mode, kind.Id(), server.Port.ToString(CultureInfo.InvariantCulture), secret, .. workerArgs.Select(a => a.ToString(CultureInfo.InvariantCulture))]);
        await worker.WaitForAsync("MEASURE-START", TimeSpan.FromMinutes(3));
        double cpuStart = server.CpuSeconds();
        await worker.WaitForAsync("MEASURE-END", TimeSpan.FromMinutes(10));
        double serverCpu = server.CpuSeconds() - cpuStart;
        var result = new ResultLine(await worker.WaitForAsync("RESULT", TimeSpan.FromMinutes(1)));
        return (result, serverCpu);
    }
}
