namespace ChatGateway.Storage;

/// <summary>
/// Counts of durations in power-of-two buckets of microseconds, recorded by one thread and read by any: bucket 0
/// holds durations under 1 µs, bucket i (1 ≤ i &lt; 31) those from 2^(i-1) up to 2^i µs, and bucket 31 everything
/// from 2^30 µs (about 18 minutes). Fixed size (32 counters), so it never grows, and counts only go up: a reader
/// takes two snapshots and subtracts them (<see cref="DurationSnapshot.Since"/>) for what happened in between, as
/// with a Prometheus histogram. Recording costs an increment, no lock and no allocation.
/// </summary>
public sealed class DurationHistogram
{
    public const int Buckets = 32;
    private readonly long[] _counts = new long[Buckets];
    private long _totalMicros;

    /// <summary>On the one thread that records (the store's writer).</summary>
    public void Record(TimeSpan duration)
    {
        long micros = Math.Max(0, (long)duration.TotalMicroseconds);
        int bucket = micros == 0 ? 0 : Math.Min(Buckets - 1, 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)micros));
        // One writer: a plain read-modify-write cannot lose a count; the volatile write publishes it whole to readers.
        Volatile.Write(ref _counts[bucket], _counts[bucket] + 1);
        Volatile.Write(ref _totalMicros, _totalMicros + micros);
    }

    /// <summary>The counts so far (any thread; each counter read whole, the set not atomically).</summary>
    public DurationSnapshot Snapshot()
    {
        var counts = new long[Buckets];
        for (int i = 0; i < Buckets; i++)
        {
            counts[i] = Volatile.Read(ref _counts[i]);
        }
        return new DurationSnapshot(counts, Volatile.Read(ref _totalMicros));
    }
}
