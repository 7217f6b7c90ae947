using System.Globalization;
using ChatGateway.LoadTest.Targets;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// `rate`: a fixed offered rate (default 20,000 messages/s) over PAIRS pairs, open loop (<see cref="RateWorker"/>):
/// send→deliver latency p50/p99/p99.9/max, and whether the rate was held (≥ 99% of the messages the schedule
/// offered in the window were sent, and ≥ 99% of those delivered). Beside them, the generator's own send lag p99
/// and p99.9: how late its pacer got messages onto the wire, which no server can be faster than.
/// </summary>
public static class RateScenario
{
    public static async Task<Dictionary<string, object>> RunAsync(ServerKind kind, int pairs, double rate, double warmup, double seconds, string secret)
    {
        MeasuredRun.Measurement measured = await MeasuredRun.RunAsync(kind, secret, "worker-rate", pairs, rate, warmup, seconds);
        (ResultLine result, double serverCpu, _, _, _) = measured;
        long sent = result.Long("sent");
        long delivered = result.Long("delivered");
        double elapsed = result.Double("seconds");
        double p50 = result.Long("p50us") / 1000.0;
        double p99 = result.Long("p99us") / 1000.0;
        double p999 = result.Long("p999us") / 1000.0;
        double max = result.Long("maxus") / 1000.0;
        double sendLagP99 = result.Long("sendLagP99us") / 1000.0;
        double sendLagP999 = result.Long("sendLagP999us") / 1000.0;
        bool held = sent >= 0.99 * rate * elapsed && delivered >= 0.99 * sent;
        Console.WriteLine($"rate [{kind.Name()}] ({rate:N0} msgs/s offered over {pairs} pairs): {(held ? "held" : "NOT held")} " +
                          $"({sent:N0} due, {delivered:N0} delivered in {elapsed:F0} s), latency p50 {p50:F2} ms, p99 {p99:F2} ms, p99.9 {p999:F2} ms, max {max:F2} ms, generator send lag p99 {sendLagP99:F2} ms, " +
                          $"server CPU {serverCpu / elapsed * 100:F0}%, load CPU {result.Double("loadCpu") / elapsed * 100:F0}%{measured.CommitWaitsText}{measured.StealText}");
        return measured.WithSteal(measured.WithCommitWaits(new Dictionary<string, object>
        {
            ["scenario"] = "rate",
            ["server"] = kind.Id(),
            ["serverName"] = kind.Name(),
            ["pairs"] = pairs,
            ["offeredPerSecond"] = rate,
            ["seconds"] = Math.Round(elapsed, 2),
            ["sent"] = sent,
            ["delivered"] = delivered,
            ["rateHeld"] = held,
            ["p50Ms"] = p50,
            ["p99Ms"] = p99,
            ["p999Ms"] = p999,
            ["maxMs"] = max,
            // The generator's own lateness in sending (RateWorker): the part of the latency that is not the server's.
            ["sendLagP99Ms"] = sendLagP99,
            ["sendLagP999Ms"] = sendLagP999,
            ["serverCpuShare"] = Math.Round(serverCpu / elapsed, 3),
            ["loadCpuShare"] = Math.Round(result.Double("loadCpu") / elapsed, 3),
        }));
    }
}
