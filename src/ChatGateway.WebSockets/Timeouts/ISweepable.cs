namespace ChatGateway.WebSockets.Timeouts;

/// <summary>Something with deadlines, checked by a <see cref="ConnectionSweeper"/>.</summary>
public interface ISweepable
{
    /// <summary>
    /// Called on the sweeper's thread about once per resolution with the current
    /// <see cref="TimeProvider.GetTimestamp"/>. Must be quick and must not block.
    /// </summary>
    void OnSweep(long now);
}
