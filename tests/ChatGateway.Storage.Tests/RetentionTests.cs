using ChatGateway.Storage.Reading;

namespace ChatGateway.Storage.Tests;

public sealed class RetentionTests
{
    [Fact]
    public async Task Count_retention_keeps_the_last_N_and_reports_older_ranges_as_truncated()
    {
        await using var temp = new TempStore(o => o.RetainMessagesPerConversation = 3);
        ChatStore store = await temp.OpenAsync();
        for (int i = 1; i <= 10; i++)
        {
            await store.AppendMessageAsync(1, 1, default, [(byte)i], requireMembership: false);
        }

        Assert.Equal(8, store.GetConversation(1).EarliestAvailable);
        var page = new MessagePage();
        store.ReadRange(1, 5, 10, page);
        Assert.True(page.Truncated);
        Assert.Equal(8, page.EarliestAvailable);
        Assert.Equal(new long[] { 8, 9, 10 }, page.Messages.Select(m => m.Seq));

        store.ReadRange(1, 9, 10, page);
        Assert.False(page.Truncated);

        store.ReadHistory(1, 10, 5, page);
        Assert.True(page.Truncated);
        Assert.Equal(new long[] { 8, 9 }, page.Messages.Select(m => m.Seq));
    }

    [Fact]
    public async Task Count_retention_drops_whole_message_blocks_as_their_last_seq_goes_and_serves_the_rest()
    {
        // Keep 70: after 200 messages seqs 1..130 are gone, so blocks 0 (seqs 1..63) and 1 (64..127) are deleted and
        // block 2 (128..191) has lost its first three.
        await using var temp = new TempStore(o => o.RetainMessagesPerConversation = 70);
        ChatStore store = await temp.OpenAsync();
        for (int i = 1; i <= 200; i++)
        {
            await store.AppendMessageAsync(1, 1, default, BitConverter.GetBytes(i), requireMembership: false);
        }

        var page = new MessagePage();
        for (int pass = 0; pass < 2; pass++) // before and after a reopen
        {
            store.ReadRange(1, 1, 500, page);
            Assert.True(page.Truncated);
            Assert.Equal(131, page.EarliestAvailable);
            Assert.Equal(Enumerable.Range(131, 70), page.Messages.Select(m => BitConverter.ToInt32(m.Body.Span)));
            Assert.Equal(Enumerable.Range(131, 70).Select(s => (long)s), page.Messages.Select(m => m.Seq));
            store = await temp.ReopenAsync();
        }
    }

    [Fact]
    public async Task Count_retention_holds_when_a_batch_carries_a_conversation_across_several_blocks()
    {
        // Submitted without waiting, the messages reach the writer in a few large batches: each conversation's slots
        // go into the index as runs, and blocks 0 and 1 are deleted in the same batch that wrote them.
        await using var temp = new TempStore(o => o.RetainMessagesPerConversation = 70);
        ChatStore store = await temp.OpenAsync();
        var writes = new List<Task<WriteResult>>();
        for (int i = 1; i <= 200; i++)
        {
            for (long conversation = 1; conversation <= 3; conversation++)
            {
                writes.Add(store.AppendMessageAsync(conversation, 1, default, BitConverter.GetBytes(i), requireMembership: false).AsTask());
            }
        }
        await Task.WhenAll(writes);
        Assert.True(store.Stats.Batches < writes.Count / 6, $"{writes.Count} messages in {store.Stats.Batches} batches: too few shared a batch to test runs");

        // As a crash would leave it (only the journal past the store's opening): the copy replays every message.
        string image = temp.CopyFilesAsCrashed();
        try
        {
            StoreOptions options = TempStore.SmallOptions(image);
            options.RetainMessagesPerConversation = 70;
            await using ChatStore replayed = await ChatStore.OpenAsync(options, time: temp.Time);
            Assert.Equal(600, replayed.Recovery.Replayed);
            AssertLastSeventy(replayed);
        }
        finally
        {
            Directory.Delete(image, recursive: true);
        }

        AssertLastSeventy(store);
        AssertLastSeventy(await temp.ReopenAsync());

        static void AssertLastSeventy(ChatStore store)
        {
            var page = new MessagePage();
            for (long conversation = 1; conversation <= 3; conversation++)
            {
                store.ReadRange(conversation, 1, 500, page);
                Assert.Equal(131, page.EarliestAvailable);
                Assert.Equal(Enumerable.Range(131, 70), page.Messages.Select(m => BitConverter.ToInt32(m.Body.Span)));
                Assert.Equal(Enumerable.Range(131, 70).Select(s => (long)s), page.Messages.Select(m => m.Seq));
            }
        }
    }

    [Fact]
    public async Task Age_retention_hides_messages_older_than_the_limit()
    {
        await using var temp = new TempStore(o => o.RetainMessagesFor = TimeSpan.FromDays(7));
        ChatStore store = await temp.OpenAsync();
        for (int day = 0; day < 10; day++)
        {
            await store.AppendMessageAsync(1, 1, default, [(byte)day], requireMembership: false);
            temp.Time.Advance(TimeSpan.FromDays(1));
        }
        // Now: 10 days after the first message. Messages from days 3..9 are within 7 days.

        var page = new MessagePage();
        store.ReadRange(1, 1, 100, page);

        Assert.True(page.Truncated);
        Assert.Equal(4, page.EarliestAvailable);
        Assert.Equal(new long[] { 4, 5, 6, 7, 8, 9, 10 }, page.Messages.Select(m => m.Seq));
        Assert.Equal(4, store.GetConversation(1).EarliestAvailable);
    }

    [Fact]
    public async Task When_everything_has_expired_nothing_is_returned_and_the_range_is_truncated()
    {
        await using var temp = new TempStore(o => o.RetainMessagesFor = TimeSpan.FromDays(1));
        ChatStore store = await temp.OpenAsync();
        await store.AppendMessageAsync(1, 1, default, "old"u8, requireMembership: false);
        temp.Time.Advance(TimeSpan.FromDays(2));

        var page = new MessagePage();
        store.ReadRange(1, 1, 10, page);

        Assert.True(page.Truncated);
        Assert.Empty(page.Messages);
        Assert.Equal(2, page.EarliestAvailable);
        Assert.Equal(1, page.Head);
    }
}
