namespace ChatGateway.Storage;

/// <summary>A <see cref="DurationHistogram"/>'s counts at one moment, or the difference of two.</summary>
public sealed record DurationSnapshot(IReadOnlyList<long> Counts, long TotalMicros)
{
    public long Count
    {
        get
        {
            long total = 0;
            foreach (long count in Counts)
            {
                total += count;
            }
            return total;
        }
    }

    /// <summary>The exclusive upper bound of bucket <paramref name="bucket"/> in microseconds (the last one has none).</summary>
    public static long UpperBoundMicros(int bucket) => bucket >= DurationHistogram.Buckets - 1 ? long.MaxValue : 1L << bucket;

    /// <summary>What was recorded after <paramref name="earlier"/> (a snapshot of the same histogram) up to this one.</summary>
    public DurationSnapshot Since(DurationSnapshot earlier)
    {
        var counts = new long[Counts.Count];
        for (int i = 0; i < counts.Length; i++)
        {
            counts[i] = Counts[i] - earlier.Counts[i];
        }
        return new DurationSnapshot(counts, TotalMicros - earlier.TotalMicros);
    }

    /// <summary>
    /// The upper bound (µs) of the bucket that holds quantile <paramref name="q"/> (0 &lt; q ≤ 1): the true value is
    /// below it and at least half of it (in bucket 0, under 1 µs). 0 when nothing was recorded.
    /// </summary>
    public long QuantileUpperBoundMicros(double q)
    {
        long total = Count;
        if (total == 0)
        {
            return 0;
        }
        long rank = Math.Max(1, (long)Math.Ceiling(q * total));
        long seen = 0;
        for (int i = 0; i < Counts.Count; i++)
        {
            seen += Counts[i];
            if (seen >= rank)
            {
                return UpperBoundMicros(i);
            }
        }
        return UpperBoundMicros(Counts.Count - 1);
    }
}
