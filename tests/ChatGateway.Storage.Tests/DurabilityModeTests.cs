using System.Diagnostics;

namespace ChatGateway.Storage.Tests;

public sealed class DurabilityModeTests
{
    [Fact]
    public async Task Relaxed_mode_acknowledges_before_the_commit_and_still_commits_within_the_interval_under_load()
    {
        await using var temp = new TempStore(o =>
        {
            o.Durability = DurabilityMode.Relaxed;
            o.RelaxedCommitInterval = TimeSpan.FromMilliseconds(20);
        });
        ChatStore store = await temp.OpenAsync(fakeTime: false);
        var pending = new ValueTask<WriteResult>[256];

        // Keep the writer busy for many commit intervals, with no pause where an idle tick could commit instead.
        var busy = Stopwatch.StartNew();
        long sent = 0;
        while (busy.Elapsed < TimeSpan.FromMilliseconds(600))
        {
            for (int i = 0; i < pending.Length; i++)
            {
                pending[i] = store.AppendMessageAsync(1 + i % 8, 1, default, new byte[100], requireMembership: false);
            }
            foreach (ValueTask<WriteResult> write in pending)
            {
                await write;
            }
            sent += pending.Length;
        }

        StoreStats stats = store.Stats;
        Assert.Equal(sent, stats.Records);
        Assert.Equal(0, stats.Checkpoints); // only relaxed commits can have made anything durable
        Assert.True(stats.CommittedJournalBytes > stats.JournalBytes / 2,
            $"only {stats.CommittedJournalBytes} of {stats.JournalBytes} journal bytes committed during the load");
    }
}
