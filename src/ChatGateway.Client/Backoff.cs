namespace ChatGateway.Client;

/// <summary>Exponential backoff with full jitter: a fleet of clients reconnecting after a node restart spreads out instead of arriving in waves.</summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max)
{
    private int _attempt;

    public TimeSpan Next()
    {
        double ceiling = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, Math.Min(_attempt, 30)));
        _attempt++;
        return TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling);
    }

    public void Reset() => _attempt = 0;
}
