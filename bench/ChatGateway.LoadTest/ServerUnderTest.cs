using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ChatGateway.LoadTest;

/// <summary>
/// The gateway as its own process (the built ChatGateway.Server.dll), pinned to core 0 with taskset when
/// available, on a fresh data folder; its CPU time and RSS read from /proc, its metrics from /metrics.
/// </summary>
public sealed partial class ServerUnderTest : IAsyncDisposable
{
    private Process _process;
    private readonly string _data;
    private HttpClient _http;
    private readonly string[] _args;

    private ServerUnderTest(Process process, string data, int port, string[] args)
    {
        _process = process;
        _data = data;
        _args = args;
        Port = port;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
    }

    public int Port { get; private set; }
    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    public static async Task<ServerUnderTest> StartAsync(string secret, IEnumerable<string> settings)
    {
        string data = Directory.CreateTempSubdirectory("chatgw-e2e-").FullName;
        string[] args = ["--port", "0", "--address", "127.0.0.1", "--data", data, "--Auth:JwtSecret", secret, "--Ops:AllowForcedGc", "true",
            "--Logging:LogLevel:Default", "Warning", "--Logging:LogLevel:ChatGateway.Server", "Information", .. settings];
        (Process process, int port) = await LaunchAsync(args);
        return new ServerUnderTest(process, data, port, args);
    }

    private static async Task<(Process, int)> LaunchAsync(string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "ChatGateway.Server.dll");
        ProcessStartInfo start = Pinned("0", dll, args);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        Process process = Process.Start(start)!;
        var port = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                port.TrySetException(new InvalidOperationException("the server exited before listening"));
            }
            else if (ListeningLine().Match(e.Data) is { Success: true } match)
            {
                port.TrySetResult(int.Parse(match.Groups[1].Value));
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("server: " + e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, await port.Task.WaitAsync(TimeSpan.FromSeconds(60)));
    }

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
        (_process, Port) = await LaunchAsync(_args);
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}/") };
    }

    /// <summary>A process for <paramref name="dll"/> pinned to <paramref name="cpus"/> (taskset), as the issue's method asks.</summary>
    public static ProcessStartInfo Pinned(string cpus, string dll, IEnumerable<string> args) =>
        File.Exists("/usr/bin/taskset")
            ? new ProcessStartInfo("/usr/bin/taskset", ["-c", cpus, "dotnet", dll, .. args])
            : new ProcessStartInfo("dotnet", [dll, .. args]);

    [GeneratedRegex(@"ws://[^:]+:(\d+)/")]
    private static partial Regex ListeningLine();

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

    public async Task<(long Rss, long GcHeap, int Sessions)> MeasureMemoryAsync()
    {
        HttpResponseMessage response = await _http.PostAsync("/admin/gc", null);
        response.EnsureSuccessStatusCode();
        using JsonDocument metrics = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        JsonElement root = metrics.RootElement;
        return (root.GetProperty("workingSetBytes").GetInt64(), root.GetProperty("gcHeapBytes").GetInt64(), root.GetProperty("sessions").GetInt32());
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
