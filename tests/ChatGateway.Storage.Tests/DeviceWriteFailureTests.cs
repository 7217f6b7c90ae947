using ChatGateway.Storage.Reading;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// A failed write (EIO from the disk) of the index's log or of the journal must stop the store with a clear error,
/// not leave the writer waiting for a page flush or a commit that will never complete (what FASTER 2.6.5 does on
/// its own); nothing that failed is acknowledged, and a reopened store has every message that was.
/// </summary>
public sealed class DeviceWriteFailureTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30); // a hang fails the test instead of the run

    /// <summary>Messages <paramref name="from"/>..<paramref name="to"/> (the number is the body and the client id), each acknowledged with that seq.</summary>
    private static async Task AppendNumberedAsync(ChatStore store, long conversation, int from, int to)
    {
        for (int i = from; i <= to; i++)
        {
            Assert.Equal(i, (await store.AppendMessageAsync(conversation, 1, new ClientMessageId(1, (ulong)i), BitConverter.GetBytes(i), requireMembership: false)).Seq);
        }
    }

    [Fact]
    public async Task A_failed_index_write_stops_the_store_clearly_and_a_reopen_keeps_every_acknowledged_message()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await AppendNumberedAsync(store, conversation: 7, from: 1, to: 200);
        Assert.NotNull(store.IndexDevice); // Linux: the index log is written through our device
        store.IndexDevice!.InjectedWriteError = 5; // EIO

        // A checkpoint flushes the index's pages: the first write fails.
        var checkpointError = await Assert.ThrowsAnyAsync<StoreException>(() => store.CheckpointAsync().WaitAsync(Patience));
        AssertMentions(checkpointError, "index checkpoint could not be written");
        AssertMentions(checkpointError, "Input/output error");

        // Every later write is refused at once, never acknowledged.
        var appendError = await Assert.ThrowsAsync<StoreFaultedException>(async () =>
            await store.AppendMessageAsync(7, 1, new ClientMessageId(1, 999), "late"u8, requireMembership: false).AsTask().WaitAsync(Patience));
        AssertMentions(appendError, "Input/output error");
        await store.DisposeAsync().AsTask().WaitAsync(Patience);

        store = await temp.OpenAsync(); // a new device: the disk works again
        var page = new MessagePage();
        store.ReadRange(7, 1, 1000, page);
        Assert.Equal(Enumerable.Range(1, 200), page.Messages.Select(m => BitConverter.ToInt32(m.Body.Span)));
        Assert.Equal(201, (await store.AppendMessageAsync(7, 1, new ClientMessageId(1, 201), "next"u8, requireMembership: false)).Seq);
    }

    [Fact]
    public async Task A_failed_checkpoint_file_write_fails_the_checkpoint_which_is_never_used()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await AppendNumberedAsync(store, conversation: 8, from: 1, to: 50);
        await store.CheckpointAsync().WaitAsync(Patience); // a good one to fall back on
        await AppendNumberedAsync(store, conversation: 8, from: 51, to: 100);
        store.CheckpointFiles.InjectedWriteError = 5; // EIO on the hash table and metadata files of the next checkpoint

        // FASTER would report this checkpoint as taken (it only traces a failed metadata write): the store must not.
        var checkpointError = await Assert.ThrowsAnyAsync<StoreException>(() => store.CheckpointAsync().WaitAsync(Patience));
        AssertMentions(checkpointError, "index checkpoint could not be written");
        AssertMentions(checkpointError, "Input/output error");
        await Assert.ThrowsAsync<StoreFaultedException>(async () =>
            await store.AppendMessageAsync(8, 1, new ClientMessageId(1, 999), "late"u8, requireMembership: false).AsTask().WaitAsync(Patience));
        await store.DisposeAsync().AsTask().WaitAsync(Patience);

        // Reopened from the good checkpoint and the journal after it: all 100, and seqs go on.
        store = await temp.OpenAsync();
        var page = new MessagePage();
        store.ReadRange(8, 1, 1000, page);
        Assert.Equal(Enumerable.Range(1, 100), page.Messages.Select(m => BitConverter.ToInt32(m.Body.Span)));
        Assert.Equal(101, (await store.AppendMessageAsync(8, 1, new ClientMessageId(1, 101), "next"u8, requireMembership: false)).Seq);
        await store.CheckpointAsync().WaitAsync(Patience); // and checkpoints work again on a healthy disk
    }

    [Fact]
    public async Task A_page_flush_that_fails_under_load_stops_the_writer_and_nothing_acknowledged_is_lost()
    {
        // The least index memory a store takes (4 MiB): pages flush as the log grows past it. Each append below waits
        // for its commit, so the appends it takes to get there are the test's time: with TempStore's 16 MiB this test
        // ran 6 min on a slow hour of the CI machine, past the run's 5-minute hang timeout.
        await using var temp = new TempStore(o => o.IndexMemoryBytes = 4 << 20);
        ChatStore store = await temp.OpenAsync();
        await store.AppendMessageAsync(3, 1, new ClientMessageId(1, 1), new byte[100], requireMembership: false).AsTask().WaitAsync(Patience);
        store.IndexDevice!.InjectedWriteError = 5;

        var body = new byte[1000];
        long acknowledged = 1;
        StoreFaultedException? stopped = null;
        for (int i = 2; i <= 200_000 && stopped is null; i++)
        {
            try
            {
                WriteResult result = await store.AppendMessageAsync(3, 1, new ClientMessageId(1, (ulong)i), body, requireMembership: false).AsTask().WaitAsync(Patience);
                Assert.Equal(acknowledged + 1, result.Seq);
                acknowledged = result.Seq;
            }
            catch (StoreFaultedException error)
            {
                stopped = error;
            }
        }
        Assert.NotNull(stopped); // 200,000 messages' index records cannot all fit in 4 MiB without a flush
        AssertMentions(stopped, "index's log could not be written");
        await store.DisposeAsync().AsTask().WaitAsync(Patience);

        store = await temp.OpenAsync();
        Assert.Equal(acknowledged, store.GetConversation(3).Head);
        var page = new MessagePage();
        store.ReadRange(3, acknowledged - 9, 10, page);
        Assert.Equal(10, page.Messages.Count);
    }

    [Fact]
    public async Task A_failed_journal_write_fails_the_append_and_later_ones()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        Assert.Equal(1, (await store.AppendMessageAsync(4, 1, new ClientMessageId(1, 1), "kept"u8, requireMembership: false)).Seq);
        store.JournalDevice!.InjectedWriteError = 5;

        var error = await Assert.ThrowsAnyAsync<StoreException>(async () =>
            await store.AppendMessageAsync(4, 1, new ClientMessageId(1, 2), "lost"u8, requireMembership: false).AsTask().WaitAsync(Patience));
        AssertMentions(error, "Input/output error");
        await Assert.ThrowsAsync<StoreFaultedException>(async () =>
            await store.AppendMessageAsync(4, 1, new ClientMessageId(1, 3), "later"u8, requireMembership: false).AsTask().WaitAsync(Patience));
        await store.DisposeAsync().AsTask().WaitAsync(Patience);

        store = await temp.OpenAsync();
        Assert.Equal(1, store.GetConversation(4).Head); // the failed append was never acknowledged, and is not there
        Assert.Equal(2, (await store.AppendMessageAsync(4, 1, new ClientMessageId(1, 4), "next"u8, requireMembership: false)).Seq);
    }

    /// <summary>The whole chain of messages is printed on failure (xUnit's Contains cuts long strings short).</summary>
    private static void AssertMentions(Exception error, string text)
    {
        string chain = Flatten(error);
        Assert.True(chain.Contains(text, StringComparison.Ordinal), $"\"{text}\" is not in: {chain}\n{error}");
    }

    private static string Flatten(Exception error)
    {
        var messages = new List<string>();
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            messages.Add(e.Message);
        }
        return string.Join(" | ", messages);
    }
}
