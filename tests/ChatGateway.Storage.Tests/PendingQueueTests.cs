using ChatGateway.Storage.Reading;

namespace ChatGateway.Storage.Tests;

public sealed class PendingQueueTests
{
    [Fact]
    public async Task Pending_entries_are_coalesced_per_conversation_and_drained_in_order()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();

        await store.EnqueuePendingAsync(7, conversation: 100, seq: 1);
        await store.EnqueuePendingAsync(7, conversation: 200, seq: 5);
        await store.EnqueuePendingAsync(7, conversation: 100, seq: 2);
        await store.EnqueuePendingAsync(7, conversation: 100, seq: 3);
        Assert.Equal(WriteStatus.NoChange, (await store.EnqueuePendingAsync(7, 100, 2)).Status);

        var page = new PendingPage();
        store.ReadPending(7, 10, page);
        Assert.Equal(new[] { (100L, 1L, 3L), (200L, 5L, 5L) }, page.Items.Select(i => (i.Conversation, i.FromSeq, i.ToSeq)));
        Assert.Equal(0, page.Dropped);
        Assert.False(page.HasMore);

        await store.AckPendingAsync(7, page.Items[0].Position + 1);
        store.ReadPending(7, 10, page);
        Assert.Equal(new[] { 200L }, page.Items.Select(i => i.Conversation));

        // A conversation acknowledged and then written again gets a fresh entry at the end.
        await store.EnqueuePendingAsync(7, 100, 4);
        store.ReadPending(7, 10, page);
        Assert.Equal(new[] { (200L, 5L), (100L, 4L) }, page.Items.Select(i => (i.Conversation, i.FromSeq)));
    }

    [Fact]
    public async Task A_full_queue_drops_its_oldest_entry_and_says_so_until_acknowledged()
    {
        await using var temp = new TempStore(o => o.PendingQueueDepth = 3);
        ChatStore store = await temp.OpenAsync();
        for (long conversation = 1; conversation <= 5; conversation++)
        {
            await store.EnqueuePendingAsync(7, conversation, 1);
        }

        var page = new PendingPage();
        store.ReadPending(7, 10, page);
        Assert.Equal(new long[] { 3, 4, 5 }, page.Items.Select(i => i.Conversation));
        Assert.Equal(2, page.Dropped);

        await store.AckPendingAsync(7, page.NextPosition);
        store.ReadPending(7, 10, page);
        Assert.Empty(page.Items);
        Assert.Equal(0, page.Dropped);
    }

    [Fact]
    public async Task Entries_with_no_new_message_for_the_ttl_are_reported_expired()
    {
        await using var temp = new TempStore(o => o.PendingTtl = TimeSpan.FromDays(30));
        ChatStore store = await temp.OpenAsync();
        await store.EnqueuePendingAsync(7, 1, 1);
        temp.Time.Advance(TimeSpan.FromDays(29));
        await store.EnqueuePendingAsync(7, 2, 1);
        temp.Time.Advance(TimeSpan.FromDays(2));

        var page = new PendingPage();
        store.ReadPending(7, 10, page);

        Assert.Equal(new[] { (1L, true), (2L, false) }, page.Items.Select(i => (i.Conversation, i.Expired)));
    }

    [Fact]
    public async Task Reading_in_pages_and_acknowledging_behind_the_head_changes_nothing()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        for (long conversation = 1; conversation <= 5; conversation++)
        {
            await store.EnqueuePendingAsync(7, conversation, 1);
        }

        var page = new PendingPage();
        store.ReadPending(7, 2, page);
        Assert.Equal(new long[] { 1, 2 }, page.Items.Select(i => i.Conversation));
        Assert.True(page.HasMore);
        await store.AckPendingAsync(7, page.NextPosition);
        Assert.Equal(WriteStatus.NoChange, (await store.AckPendingAsync(7, page.NextPosition)).Status);
        Assert.Equal(WriteStatus.NoChange, (await store.AckPendingAsync(7, 0)).Status);
        store.ReadPending(7, 10, page);
        Assert.Equal(new long[] { 3, 4, 5 }, page.Items.Select(i => i.Conversation));
    }

    [Fact]
    public async Task The_pending_queue_survives_a_reopen()
    {
        await using var temp = new TempStore(o => o.PendingQueueDepth = 2);
        ChatStore store = await temp.OpenAsync();
        await store.EnqueuePendingAsync(7, 1, 1);
        await store.EnqueuePendingAsync(7, 2, 1);
        await store.EnqueuePendingAsync(7, 3, 1);

        store = await temp.ReopenAsync();

        var page = new PendingPage();
        store.ReadPending(7, 10, page);
        Assert.Equal(new long[] { 2, 3 }, page.Items.Select(i => i.Conversation));
        Assert.Equal(1, page.Dropped);
    }
}
