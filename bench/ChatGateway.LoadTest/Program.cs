using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using ChatGateway.LoadTest.Scenarios;

// ./run.sh bench e2e [idle|pairs|presence|all] [--quick] [--steps 1000,5000,10000,18000] [--pairs 100] [--window 64] [--seconds 10]
// Worker modes (started by the coordinator): worker-idle, worker-pairs.
switch (args.FirstOrDefault())
{
    case "worker-idle":
        return await Workers.IdleAsync(args);
    case "worker-pairs":
        return await Workers.PairsAsync(args);
    case "worker-presence":
        return await PresenceReconnect.WorkerAsync(args);
}

string scenario = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "all";
bool quick = args.Contains("--quick");
string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
int[] steps = [.. Option("--steps", quick ? "1000,4000" : "1000,5000,10000,18000").Split(',').Select(int.Parse)];
int pairs = int.Parse(Option("--pairs", "100"), CultureInfo.InvariantCulture);
int window = int.Parse(Option("--window", "64"), CultureInfo.InvariantCulture);
double seconds = double.Parse(Option("--seconds", quick ? "5" : "15"), CultureInfo.InvariantCulture);
string secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));

Console.WriteLine($"ChatGateway e2e: {Environment.ProcessorCount} cores, .NET {Environment.Version}, server on core 0, load on core 1 (taskset: {File.Exists("/usr/bin/taskset")})");
var records = new List<Dictionary<string, object>>();
if (scenario is "idle" or "all")
{
    records.Add(await IdleScenario.RunAsync(steps, secret, TimeSpan.FromSeconds(quick ? 10 : 60)));
}
if (scenario is "presence" or "all")
{
    records.Add(await PresenceReconnect.RunAsync(quick ? 2_000 : 10_000, 20, secret));
}
if (scenario is "pairs" or "all")
{
    foreach (string durability in new[] { "Commit", "Relaxed" })
    {
        records.Add(await PairsScenario.RunAsync(durability, pairs, window, warmup: quick ? 2 : 3, seconds, secret));
    }
}

string results = Path.Combine(Option("--out", Path.Combine(FindRoot(), "bench", "results")));
Directory.CreateDirectory(results);
string json = Path.Combine(results, "latest.json");
var report = new Dictionary<string, object>
{
    ["date"] = DateTimeOffset.UtcNow.ToString("u", CultureInfo.InvariantCulture),
    ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
    ["runtime"] = Environment.Version.ToString(),
    ["quick"] = quick,
    ["records"] = records,
};
File.WriteAllText(json, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"results: {json}");
return 0;

static string FindRoot()
{
    for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "ChatGateway.sln")))
        {
            return dir.FullName;
        }
    }
    return Directory.GetCurrentDirectory();
}
