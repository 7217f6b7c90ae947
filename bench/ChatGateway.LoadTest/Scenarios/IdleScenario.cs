using System.Globalization;
using System.Runtime.InteropServices;
using ChatGateway.LoadTest.Targets;
using HdrHistogram;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// `idle`: N idle authenticated connections heartbeating every 24 s, in steps; at each step the server's RSS and
/// managed heap after a forced full GC; bytes per connection as the slope over the last step (and from the first). Connections are spread
/// over workers of at most 9,000 each (the 20,000 open-files limit per process). Each step's connections are opened
/// <see cref="Workers.ConnectsInFlight"/> at a time: the connect rate and the handshake latency (TCP connect and
/// upgrade, until the server's 101) under that storm are reported per step.
/// </summary>
public static class IdleScenario
{
    private const int PerWorker = 9_000;

    public static async Task<Dictionary<string, object>> RunAsync(ServerKind kind, int[] steps, string secret, TimeSpan steadyWindow)
    {
        await using ServerUnderTest server = await ServerUnderTest.StartAsync(kind, secret, ["--Chat:Shards", "1"]);
        string name = kind.IsGateway() ? "ChatGateway" : kind.Name(); // durability plays no part in idle connections
        var workers = new List<WorkerProcess>();
        var points = new List<Dictionary<string, object>>();
        try
        {
            (long rss0, long heap0, _) = await server.MeasureMemoryAsync(0);
            points.Add(Point(0, rss0, heap0, 0));
            Console.WriteLine($"idle [{name}]: {0,6} connections: RSS {rss0 / 1048576.0,8:F1} MiB, managed heap {heap0 / 1048576.0,7:F1} MiB");
            int open = 0;
            foreach (int target in steps)
            {
                double connectMs = 0;
                int opened = 0;
                var handshakes = new LongHistogram(60_000_000, 3); // µs, up to a minute
                while (open < target)
                {
                    int count = Math.Min(PerWorker, target - open);
                    WorkerProcess worker = WorkerProcess.Start("worker-idle", kind.Id(), server.Port.ToString(CultureInfo.InvariantCulture), secret,
                        (1_000_000 + open).ToString(CultureInfo.InvariantCulture), count.ToString(CultureInfo.InvariantCulture),
                        $"127.0.0.{2 + workers.Count}"); // a source address per worker (LoadConnection.SourceAddress)
                    workers.Add(worker);
                    string[] connected = (await worker.WaitForAsync("CONNECTED", TimeSpan.FromMinutes(5))).Split(' ');
                    connectMs += double.Parse(connected[2], CultureInfo.InvariantCulture);
                    foreach (int micros in MemoryMarshal.Cast<byte, int>(Convert.FromBase64String(connected[3])))
                    {
                        handshakes.RecordValue(Math.Clamp((long)micros, 1L, handshakes.HighestTrackableValue));
                    }
                    open += count;
                    opened += count;
                }
                (long rss, long heap, _) = await server.MeasureMemoryAsync(target);
                Dictionary<string, object> point = Point(target, rss, heap, connectMs);
                if (opened > 0)
                {
                    point["connectsPerSecond"] = Math.Round(opened / (connectMs / 1000));
                    point["handshakeP50Ms"] = Math.Round(handshakes.GetValueAtPercentile(50) / 1000.0, 2);
                    point["handshakeP99Ms"] = Math.Round(handshakes.GetValueAtPercentile(99) / 1000.0, 2);
                    point["handshakeMaxMs"] = Math.Round(handshakes.GetMaxValue() / 1000.0, 2);
                }
                points.Add(point);
                Console.WriteLine($"idle [{name}]: {target,6} connections: RSS {rss / 1048576.0,8:F1} MiB, managed heap {heap / 1048576.0,7:F1} MiB " +
                                  $"({(rss - rss0) / (double)target:F0} B RSS and {(heap - heap0) / (double)target:F0} B heap per connection over the empty server)" +
                                  (opened > 0
                                      ? $"; {opened} connected in {connectMs:F0} ms ({point["connectsPerSecond"]:N0}/s), handshake p50 {point["handshakeP50Ms"]:F2} ms, " +
                                        $"p99 {point["handshakeP99Ms"]:F2} ms, max {point["handshakeMaxMs"]:F2} ms"
                                      : ""));
            }
            // The steady state at the last step: everything the server does for idle heartbeating users (heartbeat
            // frames, presence, keep-alive), as a CPU share and bytes written to disk.
            double cpu0 = server.CpuSeconds();
            long disk0 = server.DiskWriteBytes();
            await Task.Delay(steadyWindow);
            double cpuShare = (server.CpuSeconds() - cpu0) / steadyWindow.TotalSeconds;
            double diskPerSecond = (server.DiskWriteBytes() - disk0) / steadyWindow.TotalSeconds;
            Console.WriteLine($"idle [{name}]: steady state with {open} heartbeating connections over {steadyWindow.TotalSeconds:F0} s: server CPU {cpuShare * 100:F2}% of a core, " +
                              $"{diskPerSecond:F0} bytes/s written to disk");

            // The marginal cost at scale: the slope over the last step (e.g. 10,000 → 18,000). The slope from the first
            // step is reported too; it also holds one-time growth (GC budgets, pools, thread stacks) that the first few
            // thousand connections trigger, which a server holding tens of thousands pays once, not per connection.
            (double slopeRss, double slopeHeap, string span) = Slope(points[points.Count > 2 ? ^2 : 0], points[^1]);
            (double fromFirstRss, double fromFirstHeap, string firstSpan) = Slope(points[points.Count > 2 ? 1 : 0], points[^1]);
            Console.WriteLine($"idle [{name}]: slope {span}: {slopeRss:F0} bytes RSS and {slopeHeap:F0} bytes managed heap per connection " +
                              $"({firstSpan}: {fromFirstRss:F0} and {fromFirstHeap:F0})");
            return new Dictionary<string, object>
            {
                ["scenario"] = "idle",
                ["server"] = kind.Id(),
                ["serverName"] = name,
                ["points"] = points,
                ["bytesPerConnectionRss"] = Math.Round(slopeRss),
                ["bytesPerConnectionHeap"] = Math.Round(slopeHeap),
                ["slopeSpan"] = span,
                ["bytesPerConnectionRssFromFirstStep"] = Math.Round(fromFirstRss),
                ["bytesPerConnectionHeapFromFirstStep"] = Math.Round(fromFirstHeap),
                ["fromFirstStepSpan"] = firstSpan,
                ["steadyCpuShare"] = Math.Round(cpuShare, 4),
                // The last step's connection storm (the step the slope is taken over).
                ["connectsPerSecond"] = points[^1].GetValueOrDefault("connectsPerSecond", 0.0),
                ["handshakeP50Ms"] = points[^1].GetValueOrDefault("handshakeP50Ms", 0.0),
                ["handshakeP99Ms"] = points[^1].GetValueOrDefault("handshakeP99Ms", 0.0),
                ["steadyDiskBytesPerSecond"] = Math.Round(diskPerSecond),
                ["steadyWindowSeconds"] = steadyWindow.TotalSeconds,
            };
        }
        finally
        {
            foreach (WorkerProcess worker in workers)
            {
                await worker.DisposeAsync();
            }
        }
    }

    private static (double Rss, double Heap, string Span) Slope(Dictionary<string, object> from, Dictionary<string, object> to)
    {
        double connections = (int)to["connections"] - (int)from["connections"];
        return (((long)to["rssBytes"] - (long)from["rssBytes"]) / connections, ((long)to["gcHeapBytes"] - (long)from["gcHeapBytes"]) / connections,
            $"{from["connections"]}→{to["connections"]}");
    }

    private static Dictionary<string, object> Point(int connections, long rss, long heap, double connectMs) => new()
    {
        ["connections"] = connections,
        ["rssBytes"] = rss,
        ["gcHeapBytes"] = heap,
        ["connectMs"] = Math.Round(connectMs),
    };
}
