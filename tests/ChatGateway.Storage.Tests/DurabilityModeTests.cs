namespace ChatGateway.Storage.Tests;

public sealed class DurabilityModeTests
{
    /// <summary>
    /// Relaxed mode commits on its interval even when the writer never runs out of work (a commit must not wait for
    /// an idle moment). Acknowledgement before the commit: MessageJournalTests.
    /// </summary>
    [Fact]
    public async Task Relaxed_mode_commits_every_interval_while_the_writer_never_runs_out_of_work()
    {
        await using var temp = new TempStore(o =>
        {
            o.Durability = DurabilityMode.Relaxed;
            o.RelaxedCommitInterval = TimeSpan.FromMilliseconds(20);
        });
        ChatStore store = await temp.OpenAsync(fakeTime: false);
        var previous = new ValueTask<WriteResult>[256];
        var next = new ValueTask<WriteResult>[256];
        Submit(store, previous);

        // The next batch is queued before the previous one's acks are awaited, so the writer's queue never empties.
        // Waits for commits (events), not for an amount of time: a starved writer on a busy machine only takes longer.
        // Bounded by batches instead: 6,000 batches (1.5 M messages of ~80-byte records, ~125 MB of journal, under the
        // 256 MiB that would trigger a checkpoint) hold well over eight commits at any speed this writer reaches, also
        // when the disk paces them rather than the interval: a writer that appends faster than the disk writes makes
        // each commit flush what came in during the one before. (With 2,000 batches of ~170-byte records, a writer at
        // ~1.1 M msgs/s saw 5 commits of ~90 ms each in 443 ms, session 18.)
        // Each commit also keeps up: the commit seen at one observation started after the one seen two observations
        // earlier had been seen, so it covers at least the journal written by then. (A commit started in the background
        // beside new appends once fell ever further behind: 44 KB of 3.6 MB committed after 600 ms of load.)
        const int Commits = 8;
        const int MaxBatches = 6_000;
        var journalWhenSeen = new List<long>();
        long committed = store.Stats.CommittedJournalBytes;
        long sent = 0;
        for (int batches = 0; journalWhenSeen.Count < Commits; batches++)
        {
            Assert.True(batches < MaxBatches, $"{journalWhenSeen.Count} commits in {MaxBatches} batches of load with a 20 ms interval");
            Submit(store, next);
            foreach (ValueTask<WriteResult> write in previous)
            {
                await write;
            }
            sent += previous.Length;
            StoreStats now = store.Stats;
            if (now.CommittedJournalBytes > committed)
            {
                committed = now.CommittedJournalBytes;
                if (journalWhenSeen.Count >= 2)
                {
                    long before = journalWhenSeen[^2];
                    Assert.True(committed >= before, $"commit {journalWhenSeen.Count} reached {committed}, behind the {before} journal bytes written two commits earlier");
                }
                journalWhenSeen.Add(now.JournalBytes);
            }
            (previous, next) = (next, previous);
        }
        foreach (ValueTask<WriteResult> write in previous)
        {
            await write;
        }
        sent += previous.Length;

        StoreStats stats = store.Stats;
        Assert.Equal(sent, stats.Records);
        Assert.Equal(0, stats.Checkpoints); // only relaxed commits can have made anything durable
    }

    /// <summary>
    /// Commit mode times every batch's wait for its commit (/metrics, the bench's commit columns); Relaxed mode acknowledges
    /// without one and records none. Each append is awaited before the next, so each is a batch of its own.
    /// </summary>
    [Theory]
    [InlineData(DurabilityMode.Commit)]
    [InlineData(DurabilityMode.Relaxed)]
    public async Task Each_batch_that_waited_for_its_commit_is_timed(DurabilityMode durability)
    {
        await using var temp = new TempStore(o => o.Durability = durability);
        ChatStore store = await temp.OpenAsync(fakeTime: false);
        DurationSnapshot before = store.CommitWaits;
        long batchesBefore = store.Stats.Batches;

        for (int i = 0; i < 5; i++)
        {
            await store.AppendMessageAsync(1, 1, default, Body, requireMembership: false);
        }

        DurationSnapshot waits = store.CommitWaits.Since(before);
        if (durability == DurabilityMode.Commit)
        {
            Assert.Equal(5, store.Stats.Batches - batchesBefore);
            Assert.Equal(5, waits.Count);
            Assert.True(waits.TotalMicros > 0, "five commits, each a synchronous disk write, took no time at all");
        }
        else
        {
            Assert.Equal(0, waits.Count);
        }
    }

    private static readonly byte[] Body = new byte[10];

    private static void Submit(ChatStore store, ValueTask<WriteResult>[] writes)
    {
        for (int i = 0; i < writes.Length; i++)
        {
            writes[i] = store.AppendMessageAsync(1 + i % 8, 1, default, Body, requireMembership: false);
        }
    }
}
