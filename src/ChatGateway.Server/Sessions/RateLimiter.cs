namespace ChatGateway.Server.Sessions;

/// <summary>
/// Two token buckets per connection (requests and bytes), refilled continuously, plus a count of refusals in a
/// sliding window: a client that keeps hitting the limit is an abuser and gets closed with 1008. Used only by
/// the connection's read loop, so it needs no locking.
/// </summary>
public sealed class RateLimiter(double messagesPerSecond, double messagesBurst, double bytesPerSecond, double bytesBurst,
    int maxViolations, long violationWindowTicks, long ticksPerSecond)
{
    private readonly double _messagesBurst = messagesBurst;
    private readonly double _bytesBurst = bytesBurst;
    private double _messages = messagesBurst;
    private double _bytes = bytesBurst;
    private long _last;
    private int _violations;
    private long _windowStart;

    /// <summary>Takes one request of <paramref name="bytes"/> bytes; false if over either limit.</summary>
    public bool TryTake(long now, int bytes)
    {
        if (_last != 0)
        {
            double seconds = (double)(now - _last) / ticksPerSecond;
            _messages = Math.Min(_messagesBurst, _messages + seconds * messagesPerSecond);
            _bytes = Math.Min(_bytesBurst, _bytes + seconds * bytesPerSecond);
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
    public bool AddViolation(long now)
    {
        if (now - _windowStart > violationWindowTicks)
        {
            _windowStart = now;
            _violations = 0;
        }
        return ++_violations > maxViolations;
    }
}
