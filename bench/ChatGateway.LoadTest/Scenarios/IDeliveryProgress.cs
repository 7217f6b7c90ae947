namespace ChatGateway.LoadTest.Scenarios;

/// <summary>How far a sender's messages got, end to end: what <see cref="Workers.WindowedSendLoopAsync"/> paces by.</summary>
public interface IDeliveryProgress
{
    /// <summary>Messages delivered (for a group: to its slowest member).</summary>
    long Delivered { get; }

    /// <summary>Released after each batch of deliveries read.</summary>
    SemaphoreSlim Progress { get; }
}
