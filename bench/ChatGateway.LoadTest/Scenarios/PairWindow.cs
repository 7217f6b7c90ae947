using ChatGateway.LoadTest.Targets;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// One pair's end-to-end window: the receiver's deliveries (also added to the run's total), and a signal to the
/// sender after each batch of frames the receiver read, so one refill covers everything that arrived together.
/// </summary>
public sealed class PairWindow(Counter total) : IInbound, IDeliveryProgress
{
    private long _delivered;

    public long Delivered => Volatile.Read(ref _delivered);

    public SemaphoreSlim Progress { get; } = new(0);

    public void OnAck()
    {
    }

    public void OnDeliver(ReadOnlySpan<byte> body)
    {
        Interlocked.Increment(ref _delivered);
        total.OnDeliver(body);
    }

    public void OnBatchEnd()
    {
        if (Progress.CurrentCount == 0)
        {
            Progress.Release();
        }
    }
}
