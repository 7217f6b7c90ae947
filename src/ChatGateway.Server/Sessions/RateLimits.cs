using ChatGateway.Server.Messaging;

namespace ChatGateway.Server.Sessions;

/// <summary>The node's request limits per connection (<see cref="ChatOptions"/>), shared by every <see cref="RateLimiter"/>.</summary>
public sealed class RateLimits(ChatOptions options, long ticksPerSecond)
{
    public double MessagesPerSecond { get; } = options.RateMessagesPerSecond;
    public double MessagesBurst { get; } = options.RateMessagesBurst;
    public double BytesPerSecond { get; } = options.RateBytesPerSecond;
    public double BytesBurst { get; } = options.RateBytesBurst;
    public int MaxViolations { get; } = options.MaxViolations;
    public long ViolationWindowTicks { get; } = (long)(options.ViolationWindow.TotalSeconds * ticksPerSecond);
    public long TicksPerSecond { get; } = ticksPerSecond;
}
