using System.Diagnostics;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>A load worker (this program in a worker mode) pinned to <see cref="Cores.Load"/>, its stdout lines awaitable.</summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly SemaphoreSlim _arrived = new(0);

    private WorkerProcess(Process process) => _process = process;

    public static WorkerProcess Start(params string[] args)
    {
        ProcessStartInfo start = ServerUnderTest.Pinned(Cores.Load, typeof(WorkerProcess).Assembly.Location, args);
        start.RedirectStandardOutput = true;
        start.RedirectStandardInput = true;
        Process process = Process.Start(start)!;
        var worker = new WorkerProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            lock (worker._lines)
            {
                worker._lines.Add(e.Data ?? "EXITED");
            }
            worker._arrived.Release();
        };
        process.BeginOutputReadLine();
        return worker;
    }

    /// <summary>
    /// The first line starting with <paramref name="prefix"/> that no earlier wait took (waits for it): a worker that
    /// answers the same command again (reconnect's rounds) is waited for anew each time.
    /// </summary>
    public async Task<string> WaitForAsync(string prefix, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            lock (_lines)
            {
                int index = _lines.FindIndex(l => l.StartsWith(prefix, StringComparison.Ordinal));
                if (index >= 0)
                {
                    string line = _lines[index];
                    _lines.RemoveAt(index);
                    return line;
                }
                if (_lines.Contains("EXITED"))
                {
                    throw new InvalidOperationException($"worker exited before '{prefix}': {string.Join(" | ", _lines)}");
                }
            }
            await _arrived.WaitAsync(cts.Token);
        }
    }

    /// <summary>A command line to the worker's stdin.</summary>
    public void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close(); // the worker stops when its stdin ends
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }
}
