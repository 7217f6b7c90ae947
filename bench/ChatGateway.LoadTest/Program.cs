using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using ChatGateway.LoadTest;
using ChatGateway.LoadTest.Scenarios;
using ChatGateway.LoadTest.Targets;

// ./run.sh bench e2e [idle|pairs|rate|group|reconnect|presence|all] [--quick] [--servers gateway,signalr,...]
//   [--steps 1000,5000,10000,18000] [--pairs 100] [--window 64] [--rate 20000] [--seconds 15] [--repeat 1]
// Worker modes (started by the coordinator, pinned to core 1): worker-idle, worker-pairs, worker-rate,
// worker-group, worker-reconnect, worker-fill, worker-presence.
switch (args.FirstOrDefault())
{
    case "worker-idle":
        return await Workers.IdleAsync(args);
    case "worker-pairs":
        return await Workers.PairsAsync(args);
    case "worker-rate":
        return await RateWorker.RunAsync(args);
    case "worker-group":
        return await GroupScenario.WorkerAsync(args);
    case "worker-reconnect":
        return await ReconnectScenario.WorkerAsync(args);
    case "worker-fill":
        return await ReconnectScenario.FillAsync(args);
    case "worker-presence":
        return await PresenceReconnect.WorkerAsync(args);
}

if (args.FirstOrDefault() == "report")
{
    // Charts and tables again from a results file: ./run.sh bench e2e report [results/latest.json]
    string source = args.Length > 1 ? args[1] : Path.Combine(Paths.Root, "bench", "results", "latest.json");
    ChatGateway.LoadTest.Report.ResultsReport.Write(source, Path.GetDirectoryName(Path.GetFullPath(source))!);
    Console.WriteLine($"report: {Path.Combine(Path.GetDirectoryName(Path.GetFullPath(source))!, "latest.md")}");
    return 0;
}

string scenario = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal) && !IsOptionValue(a)) ?? "all";
bool quick = args.Contains("--quick");
string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
bool IsOptionValue(string arg) => Array.IndexOf(args, arg) is > 0 and var i && args[i - 1].StartsWith("--", StringComparison.Ordinal) && args[i - 1] != "--quick";
int[] steps = [.. Option("--steps", quick ? "1000,4000" : "1000,5000,10000,18000").Split(',').Select(int.Parse)];
int pairs = int.Parse(Option("--pairs", "100"), CultureInfo.InvariantCulture);
int window = int.Parse(Option("--window", "64"), CultureInfo.InvariantCulture);
double rate = double.Parse(Option("--rate", "20000"), CultureInfo.InvariantCulture);
double seconds = double.Parse(Option("--seconds", quick ? "3" : "15"), CultureInfo.InvariantCulture);
// The servers run without tiered JIT (their csproj), so warm-up covers connection set-up, caches and the GC only.
double warmup = double.Parse(Option("--warmup", quick ? "2" : "5"), CultureInfo.InvariantCulture);
int repeat = int.Parse(Option("--repeat", "1"), CultureInfo.InvariantCulture);
ServerKind[] servers = [.. Option("--servers", "gateway,gateway-relaxed,signalr,websockets,node-ws,tcp").Split(',').Select(ServerKinds.Parse)];
string secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
bool Runs(string name) => scenario == name || scenario == "all";

Console.WriteLine($"ChatGateway e2e: {Environment.ProcessorCount} cores, .NET {Environment.Version}, server on core 0, load on core 1 " +
                  $"(taskset: {File.Exists("/usr/bin/taskset")}); servers: {string.Join(", ", servers.Select(s => s.Name()))}");
var records = new List<Dictionary<string, object>>();
for (int round = 1; round <= repeat; round++)
{
    if (repeat > 1)
    {
        Console.WriteLine($"--- round {round} of {repeat}");
    }
    if (Runs("idle"))
    {
        foreach (ServerKind kind in servers.Where(k => k != ServerKind.GatewayRelaxed)) // durability plays no part in idle connections
        {
            records.Add(Tagged(await IdleScenario.RunAsync(kind, steps, secret, TimeSpan.FromSeconds(quick ? 5 : 60)), round));
        }
    }
    if (Runs("pairs"))
    {
        foreach (ServerKind kind in servers)
        {
            records.Add(Tagged(await PairsScenario.RunAsync(kind, pairs, window, warmup, seconds, secret), round));
        }
    }
    if (Runs("rate"))
    {
        foreach (ServerKind kind in servers)
        {
            records.Add(Tagged(await RateScenario.RunAsync(kind, pairs, rate, warmup, seconds, secret), round));
        }
    }
    if (Runs("group"))
    {
        foreach (ServerKind kind in servers.Where(k => k.IsGateway()))
        {
            foreach (int members in quick ? [100, 1000] : new[] { 100, 1000 })
            {
                records.Add(Tagged(await GroupScenario.RunAsync(kind, members, window: 32, warmup, seconds, secret), round));
            }
        }
    }
    if (Runs("reconnect"))
    {
        foreach (ServerKind kind in servers.Where(k => k.IsGateway()))
        {
            records.Add(Tagged(await ReconnectScenario.RunAsync(kind, quick ? 2_000 : 10_000, missed: 10, secret), round));
        }
    }
    if (Runs("presence"))
    {
        records.Add(Tagged(await PresenceReconnect.RunAsync(quick ? 2_000 : 10_000, 20, secret), round));
    }
}

string results = Option("--out", Path.Combine(Paths.Root, "bench", "results"));
Directory.CreateDirectory(results);
string json = Path.Combine(results, "latest.json");
var report = new Dictionary<string, object>
{
    ["date"] = DateTimeOffset.UtcNow.ToString("u", CultureInfo.InvariantCulture),
    ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
    ["runtime"] = Environment.Version.ToString(),
    ["command"] = "./run.sh bench e2e " + string.Join(' ', args),
    ["quick"] = quick,
    ["records"] = records,
};
File.WriteAllText(json, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
ChatGateway.LoadTest.Report.ResultsReport.Write(json, results);
Console.WriteLine($"results: {json}, {Path.Combine(results, "latest.md")} and charts (*.png) beside them");
return 0;

static Dictionary<string, object> Tagged(Dictionary<string, object> record, int round)
{
    record["round"] = round;
    return record;
}
