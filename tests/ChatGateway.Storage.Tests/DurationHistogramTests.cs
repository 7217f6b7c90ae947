namespace ChatGateway.Storage.Tests;

public sealed class DurationHistogramTests
{
    [Theory]
    [InlineData(0.0, 0)]          // under 1 µs
    [InlineData(0.9, 0)]
    [InlineData(1.0, 1)]          // [1, 2) µs
    [InlineData(3.0, 2)]          // [2, 4)
    [InlineData(4.0, 3)]          // [4, 8)
    [InlineData(1_000.0, 10)]     // [512, 1024)
    [InlineData(1_024.0, 11)]     // [1024, 2048)
    [InlineData(5e9, 31)]         // over 2^30 µs: the last bucket
    public void A_duration_lands_in_the_power_of_two_bucket_that_holds_it(double micros, int bucket)
    {
        var histogram = new DurationHistogram();
        histogram.Record(TimeSpan.FromMicroseconds(micros));

        DurationSnapshot snapshot = histogram.Snapshot();
        Assert.Equal(1, snapshot.Count);
        Assert.Equal(1, snapshot.Counts[bucket]);
        Assert.Equal((long)micros, snapshot.TotalMicros);
    }

    [Fact]
    public void Quantiles_are_the_upper_bounds_of_the_buckets_that_hold_them()
    {
        var histogram = new DurationHistogram();
        for (int i = 0; i < 98; i++)
        {
            histogram.Record(TimeSpan.FromMicroseconds(300)); // [256, 512)
        }
        histogram.Record(TimeSpan.FromMilliseconds(3));   // [2048, 4096)
        histogram.Record(TimeSpan.FromMilliseconds(20));  // [16384, 32768)

        DurationSnapshot snapshot = histogram.Snapshot();
        Assert.Equal(512, snapshot.QuantileUpperBoundMicros(0.5));
        Assert.Equal(512, snapshot.QuantileUpperBoundMicros(0.98));
        Assert.Equal(4096, snapshot.QuantileUpperBoundMicros(0.99));
        Assert.Equal(32768, snapshot.QuantileUpperBoundMicros(1.0));
        Assert.Equal(0, new DurationHistogram().Snapshot().QuantileUpperBoundMicros(0.99));
    }

    [Fact]
    public void The_difference_of_two_snapshots_holds_only_what_was_recorded_between_them()
    {
        var histogram = new DurationHistogram();
        histogram.Record(TimeSpan.FromMilliseconds(10));
        DurationSnapshot earlier = histogram.Snapshot();
        histogram.Record(TimeSpan.FromMicroseconds(100));
        histogram.Record(TimeSpan.FromMicroseconds(120));

        DurationSnapshot between = histogram.Snapshot().Since(earlier);
        Assert.Equal(2, between.Count);
        Assert.Equal(220, between.TotalMicros);
        Assert.Equal(128, between.QuantileUpperBoundMicros(1.0)); // the 10 ms before is not in it
    }
}
