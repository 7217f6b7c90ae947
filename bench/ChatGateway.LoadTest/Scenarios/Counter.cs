using ChatGateway.LoadTest.Targets;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>Acks and deliveries counted across connections (thread-safe).</summary>
public sealed class Counter : IInbound
{
    private long _acks;
    private long _delivers;

    public long Acks => Interlocked.Read(ref _acks);
    public long Delivers => Interlocked.Read(ref _delivers);

    public void OnAck() => Interlocked.Increment(ref _acks);

    public void Add(long acks) => Interlocked.Add(ref _acks, acks);

    public void OnDeliver(ReadOnlySpan<byte> body) => Interlocked.Increment(ref _delivers);
}
