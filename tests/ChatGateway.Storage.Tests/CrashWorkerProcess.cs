using System.Diagnostics;
using System.Threading.Channels;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// The crash worker (tests/ChatGateway.Storage.CrashWorker) in its own process: it appends to a real store
/// and prints one line per acknowledged write; the test kills it with SIGKILL. Lines already written to the
/// pipe when it dies are acknowledgements the store gave.
/// </summary>
public sealed class CrashWorkerProcess : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly List<string> _seen = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CrashWorkerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _lines.Writer.TryComplete();
                _exited.TrySetResult();
            }
            else
            {
                _lines.Writer.TryWrite(e.Data);
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static CrashWorkerProcess Start(string directory, int conversations, int concurrency, int checkpointMs, int seed)
    {
        var start = new ProcessStartInfo("dotnet", [WorkerDll, directory, $"{conversations}", $"{concurrency}", $"{checkpointMs}", $"{seed}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        return new CrashWorkerProcess(Process.Start(start)!);
    }

    /// <summary>The worker built next to this test assembly, in the same configuration.</summary>
    private static string WorkerDll
    {
        get
        {
            string testDir = AppContext.BaseDirectory; // .../tests/ChatGateway.Storage.Tests/bin/<Config>/net10.0/
            string configuration = new DirectoryInfo(testDir).Parent!.Name;
            string testsDir = Path.GetFullPath(Path.Combine(testDir, "..", "..", "..", ".."));
            string dll = Path.Combine(testsDir, "ChatGateway.Storage.CrashWorker", "bin", configuration, "net10.0", "ChatGateway.Storage.CrashWorker.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException("crash worker not built", dll);
        }
    }

    /// <summary>Reads lines until <paramref name="count"/> lines starting with <paramref name="prefix"/> have arrived since start.</summary>
    public async Task WaitForAsync(string prefix, int count)
    {
        using var cts = new CancellationTokenSource(Timeout);
        while (_seen.Count(l => l.StartsWith(prefix, StringComparison.Ordinal)) < count)
        {
            if (!await _lines.Reader.WaitToReadAsync(cts.Token))
            {
                throw new InvalidOperationException($"worker exited after {_seen.Count} lines before {count} {prefix} lines");
            }
            while (_lines.Reader.TryRead(out string? line))
            {
                _seen.Add(line);
            }
        }
    }

    /// <summary>SIGKILL, then every line the worker got out before dying.</summary>
    public async Task<IReadOnlyList<string>> KillAsync()
    {
        _process.Kill(); // SIGKILL on Unix: no handler, no flush, no cleanup
        using var cts = new CancellationTokenSource(Timeout);
        await _process.WaitForExitAsync(cts.Token);
        await _exited.Task.WaitAsync(cts.Token);
        while (_lines.Reader.TryRead(out string? line))
        {
            _seen.Add(line);
        }
        return _seen;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }
        _process.Dispose();
    }
}
