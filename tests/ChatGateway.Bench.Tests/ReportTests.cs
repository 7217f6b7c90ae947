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
                      slopeSpan = "10000→18000", bytesPerConnectionRssFromFirstStep = 8300.0, fromFirstStepSpan = "1000→18000", steadyCpuShare = 0.09 },
                new { scenario = "pairs", server = "tcp", serverName = "raw TCP relay", deliveredPerSecond = 1_000_000.0, serverCpuShare = 0.99, loadCpuShare = 0.8,
                      deliveredPerServerCpuSecond = 1_010_101.0 },
                new { scenario = "rate", server = "tcp", serverName = "raw TCP relay", offeredPerSecond = 20_000.0, rateHeld = false, p50Ms = 0.2, p99Ms = 1.1,
                      p999Ms = 5.5, maxMs = 9.0, serverCpuShare = 0.8 },
            ];
            string json = Path.Combine(directory, "latest.json");
            File.WriteAllText(json, JsonSerializer.Serialize(new { date = "2026-11-29", machine = "test", runtime = "10", command = "test", records }));

            ResultsReport.Write(json, directory);

            string md = File.ReadAllText(Path.Combine(directory, "latest.md"));
            Assert.Contains("| ChatGateway | **5,200** | 5,400 | 10000→18000 |", md);
            Assert.Contains("| raw TCP relay | 1,000,000 | 99.0% | 80.0% | **1,010,101** |", md);
            Assert.Contains("| raw TCP relay | 20,000 | **no** |", md);
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

    private static object Point(int connections, long rssMiB) =>
        new { connections, rssBytes = rssMiB * 1048576, gcHeapBytes = rssMiB * 524288, connectMs = 0.0 };
}
