using ChatGateway.LoadTest.Scenarios;

namespace ChatGateway.Bench.Tests;

public sealed class CpuStealTests
{
    [Fact]
    public void Steal_is_each_cores_stolen_ticks_over_all_its_ticks_between_two_readings()
    {
        // user nice system idle iowait irq softirq steal guest guest_nice
        CpuSteal before = CpuSteal.Parse([
            "cpu  300 0 100 600 0 0 0 30 0 0",
            "cpu0 200 0 50 300 0 0 0 10 0 0",
            "cpu1 100 0 50 300 0 0 0 20 0 0",
            "intr 12345",
        ]);
        CpuSteal after = CpuSteal.Parse([
            "cpu  500 0 200 900 0 0 0 100 0 0",
            "cpu0 300 0 100 400 0 0 0 60 0 0",  // 300 ticks more, 50 of them stolen
            "cpu1 200 0 100 510 10 5 5 40 7 0", // 400 ticks more (guest time is inside user), 20 stolen
        ]);

        Assert.Equal(50.0 / 300, after.ShareSince(before, 0)!.Value, 6);
        Assert.Equal(20.0 / 400, after.ShareSince(before, 1)!.Value, 6);
        Assert.Null(after.ShareSince(before, 2)); // no such core
        Assert.Null(before.ShareSince(before, 0)); // no time passed
    }
}
