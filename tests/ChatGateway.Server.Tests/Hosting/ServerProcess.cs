using System.Diagnostics;
using System.Text.RegularExpressions;

namespace ChatGateway.Server.Tests.Hosting;

/// <summary>
/// The gateway as operators run it: the built ChatGateway.Server binary in its own process, started
/// with command-line options and environment variables, its log read for the port it bound.
/// </summary>
public sealed partial class ServerProcess : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly List<string> _log = [];

    private ServerProcess(Process process) => _process = process;

    public int Port { get; private set; }
    public string Log { get { lock (_log) { return string.Join('\n', _log); } } }

    public static async Task<ServerProcess> StartAsync(IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "ChatGateway.Server.dll");
        var start = new ProcessStartInfo("dotnet", [dll, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var server = new ServerProcess(Process.Start(start)!);
        var listening = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(string? line)
        {
            if (line is null)
            {
                listening.TrySetException(new InvalidOperationException("server exited before listening:\n" + server.Log));
                return;
            }
            lock (server._log)
            {
                server._log.Add(line);
            }
            Match match = ListeningLine().Match(line);
            if (match.Success)
            {
                listening.TrySetResult(int.Parse(match.Groups[1].Value));
            }
        }
        server._process.OutputDataReceived += (_, e) => OnLine(e.Data);
        server._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) OnLine(e.Data); };
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        server.Port = await listening.Task.WaitAsync(Timeout);
        return server;
    }

    [GeneratedRegex(@"ws://[^:]+:(\d+)/")]
    private static partial Regex ListeningLine();

    public int ExitCode => _process.ExitCode;

    /// <summary>SIGKILL: the process gets no chance to flush, commit or checkpoint anything.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as a service manager stops the gateway, and waits for the process to exit.</summary>
    public async Task TerminateAsync()
    {
        using Process kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])!;
        await kill.WaitForExitAsync();
        using var cts = new CancellationTokenSource(Timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
