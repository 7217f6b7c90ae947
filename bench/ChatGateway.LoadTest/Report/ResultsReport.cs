using System.Globalization;
using System.Text;
using System.Text.Json;
using ScottPlot;

namespace ChatGateway.LoadTest.Report;

/// <summary>
/// Turns a results file (latest.json) into latest.md (one table per scenario, every server side by side) and PNG
/// charts: delivered messages per server CPU-second (pairs), send→deliver latency percentiles (rate), and memory
/// against open connections (idle). Scenarios run in several passes show each server's median pass in the tables;
/// with several passes or rounds, charts show each server's median.
/// </summary>
public static class ResultsReport
{
    public static void Write(string jsonPath, string directory)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(jsonPath));
        JsonElement root = document.RootElement;
        JsonElement[] records = [.. root.GetProperty("records").EnumerateArray()];
        var md = new StringBuilder();
        md.AppendLine("# End-to-end results").AppendLine();
        md.AppendLine($"{root.GetProperty("date").GetString()} · {root.GetProperty("machine").GetString()} · .NET {root.GetProperty("runtime").GetString()} · " +
                      $"server on core 0, load generator on core 1 · `{root.GetProperty("command").GetString()}`").AppendLine();

        Table(md, "idle: memory per idle authenticated connection, after a forced GC (slope over the last step; from the first step in brackets)",
            Of(records, "idle"), ["server", "RSS bytes/conn", "managed bytes/conn", "slope over", "RSS (from first step)", "steady CPU (share of a core)",
                $"connects/s, last step ({Scenarios.Workers.ConnectsInFlight} at once)", "handshake p50 / p99 ms, last step"],
            r => [Name(r), "**" + N(r, "bytesPerConnectionRss") + "**", N(r, "bytesPerConnectionHeap"), r.GetProperty("slopeSpan").GetString()!,
                $"{N(r, "bytesPerConnectionRssFromFirstStep")} ({r.GetProperty("fromFirstStepSpan").GetString()})", P(r, "steadyCpuShare"),
                Has(r, "connectsPerSecond") ? N(r, "connectsPerSecond") : "–",
                Has(r, "handshakeP50Ms") ? $"{Ms(r, "handshakeP50Ms")} / {Ms(r, "handshakeP99Ms")}" : "–"]);
        PassTable(md, "pairs: 100 sender→receiver pairs, window 64 end to end, 100-byte bodies",
            Of(records, "pairs"), "deliveredPerServerCpuSecond", ["server", "delivered/s", "server CPU", "load CPU", "delivered per server CPU-second", StealHeader],
            (r, _) => [Name(r), N(r, "deliveredPerSecond"), P(r, "serverCpuShare"), P(r, "loadCpuShare"), "**" + N(r, "deliveredPerServerCpuSecond") + "**", Steal(r)],
            v => v.ToString("N0", CultureInfo.InvariantCulture));
        PassTable(md, "rate: fixed offered rate, open loop, latency from each message's scheduled time",
            Of(records, "rate"), "p99Ms", ["server", "offered/s", "held", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "server CPU", "generator send lag p99 ms",
                "commit wait p50 / p99 ms (at most)", StealHeader],
            (r, passes) => [Name(r), N(r, "offeredPerSecond"), Held(passes), Ms(r, "p50Ms"), "**" + Ms(r, "p99Ms") + "**",
                Ms(r, "p999Ms"), Ms(r, "maxMs"), P(r, "serverCpuShare"), Has(r, "sendLagP99Ms") ? Ms(r, "sendLagP99Ms") : "–",
                // Commit mode only: how long batches waited for their commits (power-of-two buckets, so upper bounds).
                Has(r, "commitWaitP99Ms") ? $"{Ms(r, "commitWaitP50Ms")} / {Ms(r, "commitWaitP99Ms")}" : "–", Steal(r)],
            v => v.ToString("F2", CultureInfo.InvariantCulture));
        Table(md, "group: one sender into a group, every member online",
            Of(records, "group"), ["server", "members", "deliveries/s", "messages/s", "server CPU", "deliveries per server CPU-second"],
            r => [Name(r), N(r, "members"), N(r, "deliveriesPerSecond"), N(r, "messagesPerSecond"), P(r, "serverCpuShare"), N(r, "deliveriesPerServerCpuSecond")]);
        Table(md, "reconnect: every client drops, misses messages, reconnects at once and syncs",
            Of(records, "reconnect"), ["server", "clients", "missed each", "all caught up (ms)", "server CPU seconds", "warm-up round: all caught up (ms)"],
            r => [Name(r), N(r, "clients"), N(r, "missedEach"), "**" + N(r, "caughtUpMs") + "**", r.GetProperty("serverCpuSeconds").GetDouble().ToString("F2", CultureInfo.InvariantCulture),
                Has(r, "warmupCaughtUpMs") ? N(r, "warmupCaughtUpMs") : "–"]);
        Table(md, "presence: mass reconnect with subscriptions after a restart",
            Of(records, "presence-reconnect"), ["users", "subscriptions each", "settled (ms)", "result frames", "event frames"],
            r => [N(r, "users"), N(r, "subscriptionsEach"), N(r, "settledMs"), N(r, "resultFrames"), N(r, "eventFrames")]);

        Directory.CreateDirectory(directory);
        var charts = new List<string>();
        if (Of(records, "pairs").Length > 0)
        {
            charts.Add(ThroughputChart(Of(records, "pairs"), Path.Combine(directory, "pairs.png")));
        }
        if (Of(records, "rate").Length > 0)
        {
            charts.Add(LatencyChart(Of(records, "rate"), Path.Combine(directory, "latency.png")));
        }
        if (Of(records, "idle").Length > 0)
        {
            charts.Add(MemoryChart(Of(records, "idle"), Path.Combine(directory, "memory.png")));
        }
        foreach (string chart in charts)
        {
            md.AppendLine($"![{Path.GetFileNameWithoutExtension(chart)}]({Path.GetFileName(chart)})").AppendLine();
        }
        File.WriteAllText(Path.Combine(directory, "latest.md"), md.ToString());
    }

    private static JsonElement[] Of(JsonElement[] records, string scenario) =>
        [.. records.Where(r => r.GetProperty("scenario").GetString() == scenario)];

    private static void Table(StringBuilder md, string title, JsonElement[] rows, string[] header, Func<JsonElement, string[]> cells)
    {
        if (rows.Length > 0)
        {
            WriteTable(md, title, header, rows.Select(cells));
        }
    }

    /// <summary>A Markdown table: the first column left-aligned, the figures right-aligned.</summary>
    private static void WriteTable(StringBuilder md, string title, string[] header, IEnumerable<string[]> rows)
    {
        md.AppendLine($"### {title}").AppendLine();
        md.AppendLine("| " + string.Join(" | ", header) + " |");
        md.AppendLine("|" + string.Concat(header.Select((_, i) => i == 0 ? "---|" : "---:|")));
        foreach (string[] row in rows)
        {
            md.AppendLine("| " + string.Join(" | ", row) + " |");
        }
        md.AppendLine();
    }

    /// <summary>
    /// A scenario measured in several passes (<c>--passes</c>): one row per server (and <c>--repeat</c> round), the pass
    /// with the median <paramref name="key"/>, and <paramref name="key"/> of every pass in run order beside it.
    /// </summary>
    private static void PassTable(StringBuilder md, string title, JsonElement[] rows, string key, string[] header,
        Func<JsonElement, JsonElement[], string[]> cells, Func<double, string> format)
    {
        JsonElement[][] servers = [.. rows.GroupBy(r => (Round(r), Name(r))).Select(g => g.ToArray())];
        int most = servers.Length == 0 ? 0 : servers.Max(passes => passes.Length);
        if (most <= 1)
        {
            Table(md, title, rows, header, r => cells(r, [r]));
            return;
        }
        WriteTable(md, $"{title}; the median of {most} passes, interleaved", [.. header, "each pass"],
            servers.Select(passes => (string[])[.. cells(MedianOf(passes, key), passes),
                string.Join(" / ", passes.Select(r => format(r.GetProperty(key).GetDouble())))]));
    }

    /// <summary>The record with the median <paramref name="key"/> (the upper one of an even count).</summary>
    private static JsonElement MedianOf(IEnumerable<JsonElement> records, string key)
    {
        JsonElement[] ordered = [.. records.OrderBy(r => r.GetProperty(key).GetDouble())];
        return ordered[ordered.Length / 2];
    }

    private const string StealHeader = "steal, server / load core";

    // The hypervisor's share of each pinned core in the window (Scenarios.CpuSteal): a slow pass of every server alike
    // is the host's hour; steal in one server's passes only is something that server makes the host do.
    private static string Steal(JsonElement r) =>
        r.TryGetProperty("serverCoreStealShare", out _) ? $"{P(r, "serverCoreStealShare")} / {P(r, "loadCoreStealShare")}" : "–"; // 0 is a reading

    private static string Held(JsonElement[] passes)
    {
        int held = passes.Count(r => r.GetProperty("rateHeld").GetBoolean());
        return held == passes.Length ? "yes" : passes.Length == 1 ? "**no**" : $"**no** ({held} of {passes.Length} held)";
    }

    /// <summary>Results written before a figure existed lack it (and 0 means it was not measured).</summary>
    private static bool Has(JsonElement r, string key) => r.TryGetProperty(key, out JsonElement value) && value.GetDouble() > 0;

    private static int Round(JsonElement r) => r.TryGetProperty("round", out JsonElement round) ? round.GetInt32() : 1;

    private static string Name(JsonElement r) => r.TryGetProperty("serverName", out JsonElement name) ? name.GetString()! : "ChatGateway";

    private static string N(JsonElement r, string key) => r.GetProperty(key).GetDouble().ToString("N0", CultureInfo.InvariantCulture);

    private static string P(JsonElement r, string key) => (r.GetProperty(key).GetDouble() * 100).ToString("F1", CultureInfo.InvariantCulture) + "%";

    private static string Ms(JsonElement r, string key) => r.GetProperty(key).GetDouble().ToString("F2", CultureInfo.InvariantCulture);

    /// <summary>Each server's median of <paramref name="key"/> over the rounds, in first-seen order.</summary>
    private static (string Server, double Value)[] Medians(JsonElement[] rows, string key) =>
        [.. rows.GroupBy(Name).Select(g => (g.Key, MedianOf(g, key).GetProperty(key).GetDouble()))];

    private static string ThroughputChart(JsonElement[] rows, string path)
    {
        (string Server, double Value)[] medians = Medians(rows, "deliveredPerServerCpuSecond");
        var plot = new Plot();
        plot.Add.Bars([.. medians.Select(m => m.Value)]);
        plot.Axes.Bottom.SetTicks([.. medians.Select((_, i) => (double)i)], [.. medians.Select(m => m.Server.Replace(" (", "\n("))]);
        plot.Axes.Margins(bottom: 0);
        plot.Title("pairs: delivered messages per server CPU-second (higher is better)");
        plot.YLabel("messages / CPU-second");
        plot.SavePng(path, 1100, 520);
        return path;
    }

    private static string LatencyChart(JsonElement[] rows, string path)
    {
        string[] percentiles = ["p50Ms", "p99Ms", "p999Ms"];
        string[] labels = ["p50", "p99", "p99.9"];
        Color[] colors = [Colors.SteelBlue, Colors.DarkOrange, Colors.FireBrick];
        (string Server, double Value)[] first = Medians(rows, percentiles[0]);
        var plot = new Plot();
        var bars = new List<Bar>();
        for (int p = 0; p < percentiles.Length; p++)
        {
            (string Server, double Value)[] medians = Medians(rows, percentiles[p]);
            for (int s = 0; s < medians.Length; s++)
            {
                bars.Add(new Bar { Position = s * (percentiles.Length + 1) + p, Value = medians[s].Value, FillColor = colors[p] });
            }
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = labels[p], FillColor = colors[p] });
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.SetTicks([.. first.Select((_, s) => s * (percentiles.Length + 1) + 1.0)], [.. first.Select(m => m.Server.Replace(" (", "\n("))]);
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Title($"rate: send→deliver latency at {rows[0].GetProperty("offeredPerSecond").GetDouble():N0} msgs/s (lower is better)");
        plot.YLabel("milliseconds");
        plot.SavePng(path, 1100, 520);
        return path;
    }

    private static string MemoryChart(JsonElement[] rows, string path)
    {
        var plot = new Plot();
        foreach (IGrouping<string, JsonElement> server in rows.GroupBy(Name))
        {
            JsonElement[] points = [.. server.First().GetProperty("points").EnumerateArray()];
            double[] xs = [.. points.Select(p => p.GetProperty("connections").GetDouble())];
            double[] ys = [.. points.Select(p => p.GetProperty("rssBytes").GetDouble() / 1048576.0)];
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = server.Key;
        }
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Title("idle: server RSS after a forced GC against open connections (lower is better)");
        plot.XLabel("idle authenticated connections");
        plot.YLabel("RSS (MiB)");
        plot.SavePng(path, 1100, 520);
        return path;
    }
}
