using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using ChatGateway.LoadTest;
using ChatGateway.LoadTest.Scenarios;
using ChatGateway.LoadTest.Targets;

// ./run.sh bench e2e [idle|pairs|rate|group|reconnect|presence|all] [options]: see CommandLine.Usage (--help).
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

CommandLine command;
try
{
    command = CommandLine.Parse(args);
}
catch (UsageException ex)
{
    Console.Error.WriteLine($"bench e2e: {ex.Message}");
    Console.Error.WriteLine(CommandLine.Usage);
    return 2;
}
if (command.Help)
{
    Console.WriteLine(CommandLine.Usage);
    return 0;
}
string scenario = command.Scenario;
bool quick = command.Quick;
int[] steps = [.. command.Steps];
int pairs = command.Pairs;
int window = command.Window;
double rate = command.Rate;
double seconds = command.Seconds;
// The peers' methods are compiled optimized on first call; the gateway's tier up from their first call (its csproj),
// most of it within the first seconds of load. The warm-up also covers connection set-up, caches and the GC.
double warmup = command.Warmup;
int passes = command.Passes;
int repeat = command.Repeat;
ServerKind[] servers = [.. command.Servers];
string secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
bool Runs(string name) => scenario == name || scenario == "all";

Console.WriteLine($"ChatGateway e2e: {Environment.ProcessorCount} cores, .NET {Environment.Version}, server on core {Cores.Server}, load on core {Cores.Load} " +
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
        await InPassesAsync("pairs", round, kind => PairsScenario.RunAsync(kind, pairs, window, warmup, seconds, secret));
    }
    if (Runs("rate"))
    {
        await InPassesAsync("rate", round, kind => RateScenario.RunAsync(kind, pairs, rate, warmup, seconds, secret));
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

string results = command.Out ?? Path.Combine(Paths.Root, "bench", "results");
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

// Every server once per pass, one after the other: a slow minute of the host falls on every server alike.
async Task InPassesAsync(string name, int round, Func<ServerKind, Task<Dictionary<string, object>>> measure)
{
    for (int pass = 1; pass <= passes; pass++)
    {
        if (passes > 1)
        {
            Console.WriteLine($"--- {name}: pass {pass} of {passes}");
        }
        foreach (ServerKind kind in servers)
        {
            records.Add(Tagged(await measure(kind), round, pass));
        }
    }
}

static Dictionary<string, object> Tagged(Dictionary<string, object> record, int round, int pass = 1)
{
    record["round"] = round;
    record["pass"] = pass;
    return record;
}
