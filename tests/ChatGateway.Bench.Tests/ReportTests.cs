using System.Text.Json;
using ChatGateway.LoadTest.Report;

namespace ChatGateway.Bench.Tests;

public sealed class ReportTests
{
    [Fact]
    public void A_results_file_becomes_tables_and_charts()
    {
        string directory = Directory.CreateTempSubdirectory("chatgw-report-").FullName;
        try
        {
            var points = new[] { Point(0, 80), Point(10_000, 130), Point(18_000, 170) };
            object[] records =
            [
                new { scenario = "idle", server = "gateway", serverName = "ChatGateway", points, bytesPerConnectionRss = 5200.0, bytesPerConnectionHeap = 5400.0,
                      slopeSpan = "10000→18000", bytesPerConnectionRssFromFirstStep = 8300.0, fromFirstStepSpan = "1000→18000", steadyCpuShare = 0.09,
                      connectsPerSecond = 12_500.0, handshakeP50Ms = 3.5, handshakeP99Ms = 12.25 },
                // Written before connect rates and handshakes were measured: the report shows dashes, not zeros.
                new { scenario = "idle", server = "ws", serverName = "Node ws", points, bytesPerConnectionRss = 3900.0, bytesPerConnectionHeap = 2600.0,
                      slopeSpan = "10000→18000", bytesPerConnectionRssFromFirstStep = 5300.0, fromFirstStepSpan = "1000→18000", steadyCpuShare = 0.03 },
                new { scenario = "pairs", server = "tcp", serverName = "raw TCP relay", deliveredPerSecond = 1_000_000.0, serverCpuShare = 0.99, loadCpuShare = 0.8,
                      deliveredPerServerCpuSecond = 1_010_101.0, serverCoreStealShare = 0.0, loadCoreStealShare = 0.001 },
                new { scenario = "rate", server = "tcp", serverName = "raw TCP relay", offeredPerSecond = 20_000.0, rateHeld = false, p50Ms = 0.2, p99Ms = 1.1,
                      p999Ms = 5.5, maxMs = 9.0, serverCpuShare = 0.8, sendLagP99Ms = 0.75 },
                new { scenario = "rate", server = "gateway", serverName = "ChatGateway", offeredPerSecond = 20_000.0, rateHeld = true, p50Ms = 2.5, p99Ms = 12.0,
                      p999Ms = 20.0, maxMs = 30.0, serverCpuShare = 0.7, sendLagP99Ms = 1.5, commits = 9000L, commitWaitMeanMs = 1.2, commitWaitP50Ms = 1.024,
                      commitWaitP99Ms = 8.192, serverCoreStealShare = 0.061, loadCoreStealShare = 0.125 },
                new { scenario = "reconnect", server = "gateway", serverName = "ChatGateway", clients = 10_000, missedEach = 10, caughtUpMs = 2_100.0,
                      warmupCaughtUpMs = 2_900.0, serverCpuSeconds = 1.875 },
                // Measured before the warm-up round: a dash.
                new { scenario = "reconnect", server = "gateway-relaxed", serverName = "ChatGateway (Relaxed)", clients = 10_000, missedEach = 10,
                      caughtUpMs = 3_051.0, serverCpuSeconds = 3.03 },
            ];
            string md = WriteReport(directory, records);
            Assert.Contains("| ChatGateway | **5,200** | 5,400 | 10000→18000 | 8,300 (1000→18000) | 9.0% | 12,500 | 3.50 / 12.25 |", md);
            Assert.Contains("| Node ws | **3,900** | 2,600 | 10000→18000 | 5,300 (1000→18000) | 3.0% | – | – |", md);
            Assert.Contains("| raw TCP relay | 1,000,000 | 99.0% | 80.0% | **1,010,101** | 0.0% / 0.1% |", md); // no steal is a reading too
            // The generator's own send lag, then (Commit mode only) how long the server's batches waited for their commits.
            Assert.Contains("| raw TCP relay | 20,000 | **no** | 0.20 | **1.10** | 5.50 | 9.00 | 80.0% | 0.75 | – | – |", md);
            Assert.Contains("| ChatGateway | 20,000 | yes | 2.50 | **12.00** | 20.00 | 30.00 | 70.0% | 1.50 | 1.02 / 8.19 | 6.1% / 12.5% |", md);
            Assert.Contains("| ChatGateway | 10,000 | 10 | **2,100** | 1.88 | 2,900 |", md); // the measured round, then the warm-up round
            Assert.Contains("| ChatGateway (Relaxed) | 10,000 | 10 | **3,051** | 3.03 | – |", md);
            foreach (string chart in new[] { "pairs.png", "latency.png", "memory.png" })
            {
                byte[] png = File.ReadAllBytes(Path.Combine(directory, chart));
                Assert.True(png.Length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', chart);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void A_scenario_measured_in_several_passes_shows_each_servers_median_pass_and_every_pass()
    {
        string directory = Directory.CreateTempSubdirectory("chatgw-report-").FullName;
        try
        {
            object[] records =
            [
                Pairs("gateway", "ChatGateway", pass: 1, perCpuSecond: 300_000, delivered: 290_000),
                Pairs("tcp", "raw TCP relay", pass: 1, perCpuSecond: 2_000_000, delivered: 1_900_000),
                Pairs("gateway", "ChatGateway", pass: 2, perCpuSecond: 500_000, delivered: 480_000),
                Pairs("tcp", "raw TCP relay", pass: 2, perCpuSecond: 1_500_000, delivered: 1_400_000),
                Pairs("gateway", "ChatGateway", pass: 3, perCpuSecond: 400_000, delivered: 390_000),
                Pairs("tcp", "raw TCP relay", pass: 3, perCpuSecond: 1_700_000, delivered: 1_650_000),
                Rate("gateway", "ChatGateway", pass: 1, held: true, p99: 9.0),
                Rate("gateway", "ChatGateway", pass: 2, held: false, p99: 1.5),
                Rate("gateway", "ChatGateway", pass: 3, held: true, p99: 3.25),
            ];
            string md = WriteReport(directory, records);
            Assert.Contains("### pairs: 100 sender→receiver pairs, window 64 end to end, 100-byte bodies; the median of 3 passes, interleaved", md);
            // One row per server: the median pass's own figures, then every pass in run order.
            Assert.Contains("| ChatGateway | 390,000 | 97.0% | 30.0% | **400,000** | – | 300,000 / 500,000 / 400,000 |", md);
            Assert.Contains("| raw TCP relay | 1,650,000 | 97.0% | 30.0% | **1,700,000** | – | 2,000,000 / 1,500,000 / 1,700,000 |", md);
            Assert.Single(md.Split('\n'), line => line.StartsWith("| ChatGateway | 390,000", StringComparison.Ordinal));
            // Rate: the median p99, and whether every pass held the rate (results from before the send lag was measured: a dash).
            Assert.Contains("| ChatGateway | 20,000 | **no** (2 of 3 held) | 0.30 | **3.25** | 6.50 | 9.75 | 80.0% | – | – | – | 9.00 / 1.50 / 3.25 |", md);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Writes <paramref name="records"/> as a results file in <paramref name="directory"/>, reports it, and returns latest.md.</summary>
    private static string WriteReport(string directory, object[] records)
    {
        string json = Path.Combine(directory, "latest.json");
        File.WriteAllText(json, JsonSerializer.Serialize(new { date = "2026-11-30", machine = "test", runtime = "10", command = "test", records }));
        ResultsReport.Write(json, directory);
        return File.ReadAllText(Path.Combine(directory, "latest.md"));
    }

    private static object Pairs(string server, string serverName, int pass, double perCpuSecond, double delivered) =>
        new { scenario = "pairs", server, serverName, round = 1, pass, deliveredPerSecond = delivered, serverCpuShare = 0.97, loadCpuShare = 0.3,
              deliveredPerServerCpuSecond = perCpuSecond };

    private static object Rate(string server, string serverName, int pass, bool held, double p99) =>
        new { scenario = "rate", server, serverName, round = 1, pass, offeredPerSecond = 20_000.0, rateHeld = held, p50Ms = 0.3, p99Ms = p99,
              p999Ms = p99 * 2, maxMs = p99 * 3, serverCpuShare = 0.8 };

    private static object Point(int connections, long rssMiB) =>
        new { connections, rssBytes = rssMiB * 1048576, gcHeapBytes = rssMiB * 524288, connectMs = 0.0 };
}
