using Microsoft.Extensions.Logging;

namespace ChatGateway.Storage.Tests;

/// <summary>Keeps what a store logs, for tests that assert an operator is told something.</summary>
public sealed class ListLogger : ILogger
{
    private readonly List<(LogLevel Level, string Message)> _entries = [];

    public IReadOnlyList<string> Warnings
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries.Where(e => e.Level == LogLevel.Warning).Select(e => e.Message)];
            }
        }
    }

    public IReadOnlyList<string> Errors
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries.Where(e => e.Level == LogLevel.Error).Select(e => e.Message)];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
        {
            _entries.Add((logLevel, formatter(state, exception)));
        }
    }
}
