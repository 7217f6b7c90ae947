using ChatGateway.WebSockets.Timeouts;
using Microsoft.Extensions.Time.Testing;

namespace ChatGateway.WebSockets.Tests.Units;

public sealed class ConnectionSweeperTests
{
    private sealed class Probe : ISweepable
    {
        public List<long> Seen { get; } = [];
        public void OnSweep(long now) => Seen.Add(now);
    }

    [Fact]
    public async Task Each_tick_visits_every_registered_item_and_none_after_it_leaves()
    {
        var time = new FakeTimeProvider();
        await using var sweeper = new ConnectionSweeper(time, TimeSpan.FromSeconds(1));
        var a = new Probe();
        var b = new Probe();
        int slotA = sweeper.Register(a);
        sweeper.Register(b);

        time.Advance(TimeSpan.FromSeconds(1));
        sweeper.Unregister(slotA);
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Single(a.Seen);
        Assert.Equal(2, b.Seen.Count);
        Assert.Equal(1, sweeper.Count);
    }

    [Fact]
    public async Task Slots_are_reused_and_the_array_grows_past_its_first_size()
    {
        await using var sweeper = new ConnectionSweeper(new FakeTimeProvider(), TimeSpan.FromSeconds(1));
        var probes = Enumerable.Range(0, 1000).Select(_ => new Probe()).ToList();
        List<int> slots = probes.Select(sweeper.Register).ToList();
        Assert.Equal(1000, slots.Distinct().Count());

        sweeper.Unregister(slots[10]);
        sweeper.Unregister(slots[10]); // twice is harmless
        Assert.Equal(slots[10], sweeper.Register(new Probe()));
        Assert.Equal(1000, sweeper.Count);

        sweeper.Sweep();
        Assert.All(probes.Where((_, i) => i != 10), p => Assert.Single(p.Seen));
    }
}
