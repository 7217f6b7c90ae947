namespace ChatGateway.Server.Sessions;

/// <summary>
/// Two token buckets per connection (requests and bytes), refilled continuously, plus a count of refusals in a
/// sliding window: a client that keeps hitting the limit is an abuser and gets closed with 1008. Used only by
/// the connection's read loop, so it needs no locking.
/// <para>
/// A struct inside the session holding only what changes (36 bytes); the limits live once per node in
/// <see cref="RateLimits"/>. As a class with its own copy of the limits it cost 104 bytes per idle connection.
/// </para>
/// </summary>
public struct RateLimiter
{
    private double _messages;
    private double _bytes;
    private long _last; // 0 until the first request: the buckets start full
    private long _windowStart;
    private int _violations;

    /// <summary>Takes one request of <paramref name="bytes"/> bytes; false if over either limit.</summary>
    public bool TryTake(RateLimits limits, long now, int bytes)
    {
        if (_last == 0)
        {
            _messages = limits.MessagesBurst;
            _bytes = limits.BytesBurst;
        }
        else
        {
            double seconds = (double)(now - _last) / limits.TicksPerSecond;
            _messages = Math.Min(limits.MessagesBurst, _messages + seconds * limits.MessagesPerSecond);
            _bytes = Math.Min(limits.BytesBurst, _bytes + seconds * limits.BytesPerSecond);
        }
        _last = now;
        if (_messages < 1 || _bytes < bytes)
        {
            return false;
        }
        _messages -= 1;
        _bytes -= bytes;
        return true;
    }

    /// <summary>Counts a refused request; true once the connection has earned a 1008.</summary>
    public bool AddViolation(RateLimits limits, long now)
    {
        if (now - _windowStart > limits.ViolationWindowTicks)
        {
            _windowStart = now;
            _violations = 0;
        }
        return ++_violations > limits.MaxViolations;
    }
}
