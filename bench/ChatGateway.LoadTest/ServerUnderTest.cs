using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using ChatGateway.LoadTest.Targets;
using ChatGateway.Storage;

namespace ChatGateway.LoadTest;

/// <summary>
/// A server under load as its own process, pinned to <see cref="Cores.Server"/> with taskset when available: the gateway (the built
/// ChatGateway.Server.dll, on a fresh data folder) or a peer (bench/peers). CPU time from /proc; RSS, managed
/// heap and session count from <c>POST /admin/gc</c>, which every server answers the same way.
/// </summary>
public sealed partial class ServerUnderTest : IAsyncDisposable
{
    private Process _process;
    private readonly string _data;
    private HttpClient _http;
    private readonly string[] _args;

    private ServerUnderTest(Process process, string data, (int Relay, int Admin) ports, string[] args)
    {
        _process = process;
        _data = data;
        _args = args;
        (Port, AdminPort) = ports;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{AdminPort}/") };
    }

    /// <summary>Where clients connect.</summary>
    public int Port { get; private set; }

    /// <summary>Where <c>/admin/gc</c> answers: the same port, except for the raw TCP relay.</summary>
    public int AdminPort { get; private set; }

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>The gateway (Commit, or Relaxed for <see cref="ServerKind.GatewayRelaxed"/>) with extra settings.</summary>
    public static Task<ServerUnderTest> StartAsync(string secret, IEnumerable<string> settings) => StartAsync(ServerKind.Gateway, secret, settings);

    public static async Task<ServerUnderTest> StartAsync(ServerKind kind, string secret, IEnumerable<string> gatewaySettings)
    {
        string data = Directory.CreateTempSubdirectory("chatgw-e2e-").FullName;
        string[] args = kind switch
        {
            ServerKind.Gateway or ServerKind.GatewayRelaxed =>
            [
                "--port", "0", "--address", "127.0.0.1", "--data", data, "--Auth:JwtSecret", secret, "--Ops:AllowForcedGc", "true",
                "--Logging:LogLevel:Default", "Warning", "--Logging:LogLevel:ChatGateway.Server", "Information",
                "--Storage:Durability", kind == ServerKind.GatewayRelaxed ? "Relaxed" : "Commit", .. gatewaySettings,
            ],
            ServerKind.SignalR => ["signalr"],
            ServerKind.AspNetWebSockets => ["websockets"],
            ServerKind.RawTcp => ["tcp"],
            _ => [],
        };
        (Process process, (int, int) ports) = await LaunchAsync(kind, args);
        return new ServerUnderTest(process, data, ports, args) { Kind = kind };
    }

    public ServerKind Kind { get; private init; }

    private static async Task<(Process, (int, int))> LaunchAsync(ServerKind kind, string[] args)
    {
        ProcessStartInfo start = kind switch
        {
            ServerKind.Gateway or ServerKind.GatewayRelaxed => Pinned(Cores.Server, Path.Combine(AppContext.BaseDirectory, "ChatGateway.Server.dll"), args),
            ServerKind.NodeWs => PinnedNode(Cores.Server, Path.Combine(Paths.Root, "bench", "peers", "node-ws", "relay.mjs")),
            _ => Pinned(Cores.Server, Path.Combine(AppContext.BaseDirectory, "ChatGateway.Peers.dll"), args),
        };
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        Process process = Process.Start(start)!;
        var ports = new TaskCompletionSource<(int, int)>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ports.TrySetException(new InvalidOperationException($"{kind.Name()} exited before listening"));
            }
            else if (GatewayListeningLine().Match(e.Data) is { Success: true } gateway)
            {
                int port = int.Parse(gateway.Groups[1].Value);
                ports.TrySetResult((port, port));
            }
            else if (PeerListeningLine().Match(e.Data) is { Success: true } peer)
            {
                ports.TrySetResult((int.Parse(peer.Groups[1].Value), int.Parse(peer.Groups[2].Value)));
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("server: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, await ports.Task.WaitAsync(TimeSpan.FromSeconds(60)));
    }

    private static ProcessStartInfo PinnedNode(int core, string script) =>
        File.Exists("/usr/bin/taskset")
            ? new ProcessStartInfo("/usr/bin/taskset", ["-c", core.ToString(System.Globalization.CultureInfo.InvariantCulture), "node", "--expose-gc", script])
            : new ProcessStartInfo("node", ["--expose-gc", script]);

    /// <summary>Stops the server with SIGTERM (graceful: sessions closed with 1001, state persisted) and starts it again on the same data.</summary>
    public async Task RestartAsync()
    {
        using (Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
        {
            await kill.WaitForExitAsync();
        }
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        _process.Dispose();
        _http.Dispose();
        (_process, (Port, AdminPort)) = await LaunchAsync(Kind, _args);
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{AdminPort}/") };
    }

    /// <summary>A process for <paramref name="dll"/> pinned to <paramref name="core"/> (taskset; see <see cref="Cores"/>).</summary>
    public static ProcessStartInfo Pinned(int core, string dll, IEnumerable<string> args) =>
        File.Exists("/usr/bin/taskset")
            ? new ProcessStartInfo("/usr/bin/taskset", ["-c", core.ToString(System.Globalization.CultureInfo.InvariantCulture), "dotnet", dll, .. args])
            : new ProcessStartInfo("dotnet", [dll, .. args]);

    [GeneratedRegex(@"ws://[^:]+:(\d+)/")]
    private static partial Regex GatewayListeningLine();

    [GeneratedRegex(@"^PEER relay=(\d+) admin=(\d+)")]
    private static partial Regex PeerListeningLine();

    /// <summary>User + system CPU seconds of the server process, from /proc.</summary>
    public double CpuSeconds()
    {
        _process.Refresh();
        return _process.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>Bytes the server process caused to be written to storage (/proc/PID/io write_bytes; 0 where unavailable).</summary>
    public long DiskWriteBytes()
    {
        string path = $"/proc/{_process.Id}/io";
        if (!File.Exists(path))
        {
            return 0;
        }
        foreach (string line in File.ReadLines(path))
        {
            if (line.StartsWith("write_bytes:", StringComparison.Ordinal))
            {
                return long.Parse(line["write_bytes:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    /// <summary>
    /// RSS and managed heap after a forced full GC, once the server holds <paramref name="sessions"/> sessions (a
    /// server may register a connection a moment after the client's handshake finished; waits up to 30 s).
    /// </summary>
    public async Task<(long Rss, long GcHeap, int Sessions)> MeasureMemoryAsync(int sessions)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            HttpResponseMessage response = await _http.PostAsync("/admin/gc", null);
            response.EnsureSuccessStatusCode();
            using JsonDocument metrics = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            JsonElement root = metrics.RootElement;
            int held = root.GetProperty("sessions").GetInt32();
            if (held == sessions)
            {
                return (root.GetProperty("workingSetBytes").GetInt64(), root.GetProperty("gcHeapBytes").GetInt64(), held);
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"{Kind.Name()} holds {held} sessions, {sessions} were opened");
            }
            await Task.Delay(200);
        }
    }

    /// <summary>
    /// The gateway's commit waits so far, every shard's added up (<c>GET /metrics</c>, <c>commitWaitMicros</c>); null for
    /// a peer, which has no commits.
    /// </summary>
    public async Task<DurationSnapshot?> CommitWaitsAsync()
    {
        if (!Kind.IsGateway())
        {
            return null;
        }
        using JsonDocument metrics = JsonDocument.Parse(await _http.GetStringAsync("/metrics"));
        var counts = new long[DurationHistogram.Buckets];
        long totalMicros = 0;
        foreach (JsonElement shard in metrics.RootElement.GetProperty("shards").EnumerateArray())
        {
            JsonElement waits = shard.GetProperty("commitWaitMicros");
            totalMicros += waits.GetProperty("sum").GetInt64();
            int bucket = 0;
            foreach (JsonElement count in waits.GetProperty("buckets").EnumerateArray())
            {
                counts[bucket++] += count.GetInt64();
            }
        }
        return new DurationSnapshot(counts, totalMicros);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        _http.Dispose();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
