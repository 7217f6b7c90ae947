using System.Text;
using ChatGateway.Storage.Reading;

namespace ChatGateway.Storage.Tests;

public sealed class MessageTests
{
    private static ClientMessageId Id(int n) => new(7, (ulong)n);

    /// <summary>Ids like random UUIDs, distinct for each n (splitmix64 is a bijection): no two share a dedupe block.</summary>
    private static ClientMessageId RandomId(int n) => new(Mix((ulong)n), Mix((ulong)n + 0x9E3779B97F4A7C15UL));

    private static ulong Mix(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    [Fact]
    public async Task Appends_get_consecutive_seqs_per_conversation_and_read_back_in_order()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();

        for (int i = 1; i <= 5; i++)
        {
            WriteResult a = await store.AppendMessageAsync(100, 1, Id(i), Encoding.UTF8.GetBytes($"a{i}"), requireMembership: false);
            WriteResult b = await store.AppendMessageAsync(200, 2, Id(100 + i), Encoding.UTF8.GetBytes($"b{i}"), requireMembership: false);
            Assert.Equal((WriteStatus.Ok, 100L, (long)i), (a.Status, a.Conversation, a.Seq));
            Assert.Equal((WriteStatus.Ok, 200L, (long)i), (b.Status, b.Conversation, b.Seq));
        }

        var page = new MessagePage();
        store.ReadRange(100, 2, 10, page);
        Assert.Equal(new long[] { 2, 3, 4, 5 }, page.Messages.Select(m => m.Seq));
        Assert.Equal(new[] { "a2", "a3", "a4", "a5" }, page.Messages.Select(m => Encoding.UTF8.GetString(m.Body.Span)));
        Assert.All(page.Messages, m => Assert.Equal(1, m.Sender));
        Assert.Equal(Id(3), page.Messages[1].ClientId);
        Assert.False(page.HasMore);
        Assert.False(page.Truncated);
        Assert.Equal(5, page.Head);
    }

    [Fact]
    public async Task ReadRange_pages_with_a_limit_and_says_when_more_follow()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        for (int i = 1; i <= 10; i++)
        {
            await store.AppendMessageAsync(1, 1, default, [(byte)i], requireMembership: false);
        }

        var page = new MessagePage();
        store.ReadRange(1, 1, 4, page);
        Assert.Equal(new long[] { 1, 2, 3, 4 }, page.Messages.Select(m => m.Seq));
        Assert.True(page.HasMore);
        store.ReadRange(1, 9, 4, page);
        Assert.Equal(new long[] { 9, 10 }, page.Messages.Select(m => m.Seq));
        Assert.False(page.HasMore);
        store.ReadRange(1, 11, 4, page);
        Assert.Empty(page.Messages);
    }

    [Fact]
    public async Task ReadHistory_returns_the_messages_just_before_a_seq_oldest_first()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        for (int i = 1; i <= 10; i++)
        {
            await store.AppendMessageAsync(1, 1, default, [(byte)i], requireMembership: false);
        }

        var page = new MessagePage();
        store.ReadHistory(1, 8, 3, page);
        Assert.Equal(new long[] { 5, 6, 7 }, page.Messages.Select(m => m.Seq));
        Assert.True(page.HasMore);
        store.ReadHistory(1, 3, 5, page);
        Assert.Equal(new long[] { 1, 2 }, page.Messages.Select(m => m.Seq));
        Assert.False(page.HasMore);
        Assert.False(page.Truncated);
    }

    [Fact]
    public async Task A_retried_client_message_id_returns_the_original_seq_and_writes_nothing()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();

        WriteResult first = await store.AppendMessageAsync(1, 1, Id(42), "hello"u8, requireMembership: false);
        await store.AppendMessageAsync(1, 2, Id(42), "same id, other sender"u8, requireMembership: false);
        WriteResult retry = await store.AppendMessageAsync(1, 1, Id(42), "hello"u8, requireMembership: false);

        Assert.Equal(WriteStatus.Duplicate, retry.Status);
        Assert.Equal((first.Conversation, first.Seq, first.Timestamp), (retry.Conversation, retry.Seq, retry.Timestamp));
        Assert.Equal(2, store.GetConversation(1).Head); // the other sender's message is a new one; the retry is not
    }

    [Fact]
    public async Task After_the_dedupe_window_a_reused_id_is_a_new_message()
    {
        await using var temp = new TempStore(o => o.DedupeWindow = TimeSpan.FromHours(1));
        ChatStore store = await temp.OpenAsync();

        await store.AppendMessageAsync(1, 1, Id(1), "a"u8, requireMembership: false);
        temp.Time.Advance(TimeSpan.FromMinutes(59));
        Assert.Equal(WriteStatus.Duplicate, (await store.AppendMessageAsync(1, 1, Id(1), "a"u8, requireMembership: false)).Status);
        temp.Time.Advance(TimeSpan.FromMinutes(2));
        WriteResult late = await store.AppendMessageAsync(1, 1, Id(1), "a"u8, requireMembership: false);

        Assert.Equal((WriteStatus.Ok, 2L), (late.Status, late.Seq));
    }

    [Fact]
    public async Task Ids_sent_together_and_retried_in_the_same_batch_are_stored_once_and_found_again_after_replay()
    {
        // Sent without waiting, the messages of four senders share batches: most of their ids are claimed in the
        // writer's memory and written per dedupe block at the end of the batch, and each id's retry follows it there.
        await using var temp = new TempStore(o => o.DedupeWindow = TimeSpan.FromHours(1));
        ChatStore store = await temp.OpenAsync();
        var writes = new List<(long Sender, int N, Task<WriteResult> Write)>();
        for (int n = 0; n < 200; n++)
        {
            for (long sender = 1; sender <= 4; sender++)
            {
                writes.Add((sender, n, store.AppendMessageAsync(sender, sender, new ClientMessageId((ulong)sender, (ulong)n), "x"u8, requireMembership: false).AsTask()));
                writes.Add((sender, n, store.AppendMessageAsync(sender, sender, new ClientMessageId((ulong)sender, (ulong)n), "x"u8, requireMembership: false).AsTask()));
            }
        }
        await Task.WhenAll(writes.Select(w => w.Write));
        Assert.True(store.Stats.Batches < writes.Count / 8, $"{writes.Count} writes in {store.Stats.Batches} batches: too few shared a batch to test this");

        var seqOf = new Dictionary<(long, int), long>();
        foreach ((long sender, int n, Task<WriteResult> write) in writes)
        {
            WriteResult result = await write;
            if (seqOf.TryAdd((sender, n), result.Seq))
            {
                Assert.Equal((WriteStatus.Ok, n + 1L), (result.Status, result.Seq));
            }
            else
            {
                Assert.Equal((WriteStatus.Duplicate, n + 1L), (result.Status, result.Seq));
            }
        }

        string image = temp.CopyFilesAsCrashed();
        try
        {
            await using ChatStore replayed = await ChatStore.OpenAsync(TempStore.SmallOptions(image), time: temp.Time);
            Assert.Equal(800, replayed.Recovery.Replayed);
            await AssertRetriesAreDuplicatesAsync(replayed);
        }
        finally
        {
            Directory.Delete(image, recursive: true);
        }
        await AssertRetriesAreDuplicatesAsync(store);

        async Task AssertRetriesAreDuplicatesAsync(ChatStore store)
        {
            foreach (((long sender, int n), long seq) in seqOf)
            {
                WriteResult retry = await store.AppendMessageAsync(sender, sender, new ClientMessageId((ulong)sender, (ulong)n), "x"u8, requireMembership: false);
                Assert.Equal((WriteStatus.Duplicate, seq), (retry.Status, retry.Seq));
            }
            for (long sender = 1; sender <= 4; sender++)
            {
                Assert.Equal(200, store.GetConversation(sender).Head);
            }
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Dedupe_holds_for_ids_whose_entries_left_the_index_memory_and_expires_there_too(int format)
    {
        // 4 MiB of index memory, and more index records than fit: the first ids' dedupe entries are on disk, later
        // ones in the read-only part of memory, the last ones in the mutable part. Each place takes its own path
        // through the claim (pending I/O, copy-update, in-place update). Format 3: ~24 MiB of messages, whose bodies
        // are in the index. Format 4 keeps bodies in the journal and counting ids 64 to a record, so it takes ids
        // that share nothing (a dedupe block each): ~8 MB of them.
        await using var temp = new TempStore(o =>
        {
            o.IndexMemoryBytes = 4 << 20;
            o.DedupeWindow = TimeSpan.FromHours(1);
            o.NewStoreFormat = format;
        });
        ChatStore store = await temp.OpenAsync();
        int Messages = format == 3 ? 24_000 : 80_000;
        Func<int, ClientMessageId> Id = format == 3 ? MessageTests.Id : RandomId;
        var body = new byte[format == 3 ? 1000 : 100];
        var sends = new ValueTask<WriteResult>[Messages];
        for (int i = 0; i < Messages; i++)
        {
            sends[i] = store.AppendMessageAsync(1 + i % 8, 1, Id(i), body, requireMembership: false);
        }
        var seqs = new long[Messages];
        for (int i = 0; i < Messages; i++)
        {
            seqs[i] = (await sends[i]).Seq;
        }

        int[] probes = [0, 1, 100, 5_000, 12_000, 20_000, 23_990, Messages * 3 / 4, Messages - 1];
        foreach (int i in probes)
        {
            WriteResult retry = await store.AppendMessageAsync(1 + i % 8, 1, Id(i), body, requireMembership: false);
            Assert.Equal((WriteStatus.Duplicate, 1L + i % 8, seqs[i]), (retry.Status, retry.Conversation, retry.Seq));
        }
        Assert.Equal(Messages, Enumerable.Range(1, 8).Sum(c => store.GetConversation(c).Head));

        temp.Time.Advance(TimeSpan.FromMinutes(61));
        foreach (int i in probes)
        {
            WriteResult late = await store.AppendMessageAsync(1 + i % 8, 1, Id(i), body, requireMembership: false);
            Assert.Equal(WriteStatus.Ok, late.Status); // past the window: a new message, and the entry now names it
            WriteResult retry = await store.AppendMessageAsync(1 + i % 8, 1, Id(i), body, requireMembership: false);
            Assert.Equal((WriteStatus.Duplicate, late.Seq), (retry.Status, retry.Seq));
        }
    }

    [Fact]
    public async Task Retries_find_their_original_in_a_dedupe_block_whatever_order_the_ids_came_in()
    {
        await using var temp = new TempStore(o => o.DedupeWindow = TimeSpan.FromHours(1));
        ChatStore store = await temp.OpenAsync();
        // 300 counting ids (five blocks, each grown from 1 to 4, 16 and 64 entries), sent out of order: i × 7919 mod 300.
        var seqOf = new Dictionary<int, long>();
        foreach (int i in Enumerable.Range(0, 300).OrderBy(i => i * 7919 % 300))
        {
            seqOf[i] = (await store.AppendMessageAsync(1, 1, new ClientMessageId(5, (ulong)i), "x"u8, requireMembership: false)).Seq;
        }
        Assert.Equal(300, seqOf.Values.Distinct().Count());
        // Another sender's ids are its own, even when equal.
        Assert.Equal(WriteStatus.Ok, (await store.AppendMessageAsync(1, 2, new ClientMessageId(5, 10), "y"u8, requireMembership: false)).Status);

        for (int pass = 0; pass < 2; pass++) // before and after a reopen
        {
            foreach (int i in Enumerable.Range(0, 300))
            {
                WriteResult retry = await store.AppendMessageAsync(1, 1, new ClientMessageId(5, (ulong)i), "x"u8, requireMembership: false);
                Assert.Equal((WriteStatus.Duplicate, seqOf[i]), (retry.Status, retry.Seq));
            }
            store = await temp.ReopenAsync();
        }

        // Past the window an id in a full block is new again, and its entry then names the new message.
        temp.Time.Advance(TimeSpan.FromMinutes(61));
        WriteResult late = await store.AppendMessageAsync(1, 1, new ClientMessageId(5, 77), "x"u8, requireMembership: false);
        Assert.Equal((WriteStatus.Ok, 302L), (late.Status, late.Seq));
        WriteResult lateRetry = await store.AppendMessageAsync(1, 1, new ClientMessageId(5, 77), "x"u8, requireMembership: false);
        Assert.Equal((WriteStatus.Duplicate, 302L), (lateRetry.Status, lateRetry.Seq));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Conversations_whose_records_went_to_disk_continue_exactly(int format)
    {
        // 70,000 conversations (more than the writer keeps in memory, 65,536) and 4 MiB of index memory: by the second
        // round each conversation's state, membership, message block and dedupe block are on disk, and the writer
        // fetches them for a whole batch at once (StoreWriter.Prefetch) before it decides each message.
        await using var temp = new TempStore(o =>
        {
            o.IndexMemoryBytes = 4 << 20;
            o.NewStoreFormat = format;
        });
        ChatStore store = await temp.OpenAsync();
        const int Conversations = 70_000;
        for (int round = 1; round <= 2; round++)
        {
            var sends = new Task<WriteResult>[Conversations];
            for (int c = 0; c < Conversations; c++)
            {
                long peer = 1_000_000 + c;
                sends[c] = store.AppendDirectMessageAsync(c + 1, c + 1, peer, new ClientMessageId((ulong)c + 1, (ulong)round), BitConverter.GetBytes(c * 10 + round)).AsTask();
            }
            WriteResult[] results = await Task.WhenAll(sends);
            Assert.All(results, r => Assert.Equal((WriteStatus.Ok, (long)round), (r.Status, r.Seq)));
        }

        var page = new MessagePage();
        foreach (int c in new[] { 0, 1, 33_333, Conversations - 1 })
        {
            store.ReadRange(c + 1, 1, 10, page);
            Assert.Equal([c * 10 + 1, c * 10 + 2], page.Messages.Select(m => BitConverter.ToInt32(m.Body.Span)));
            WriteResult retry = await store.AppendDirectMessageAsync(c + 1, c + 1, 1_000_000 + c, new ClientMessageId((ulong)c + 1, 1), "again"u8);
            Assert.Equal((WriteStatus.Duplicate, 1L), (retry.Status, retry.Seq));
            Assert.True(store.IsMember(c + 1, 1_000_000 + c));
        }
    }

    [Fact]
    public async Task An_empty_client_id_is_never_deduplicated()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();

        await store.AppendMessageAsync(1, 1, default, "a"u8, requireMembership: false);
        WriteResult second = await store.AppendMessageAsync(1, 1, default, "a"u8, requireMembership: false);

        Assert.Equal((WriteStatus.Ok, 2L), (second.Status, second.Seq));
    }

    /// <summary>A wall clock that can be set anywhere, backwards included (NTP steps do that).</summary>
    private sealed class SteppableClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public async Task Timestamps_never_run_backwards_within_a_conversation()
    {
        await using var temp = new TempStore();
        var clock = new SteppableClock(DateTimeOffset.UtcNow);
        await using ChatStore store = await ChatStore.OpenAsync(temp.Options, time: clock);

        WriteResult first = await store.AppendMessageAsync(1, 1, default, "a"u8, requireMembership: false);
        clock.Now = clock.Now.AddMinutes(-5); // the clock steps back
        WriteResult second = await store.AppendMessageAsync(1, 1, default, "b"u8, requireMembership: false);

        Assert.Equal(first.Timestamp, second.Timestamp);
        Assert.True(second.Seq > first.Seq);
    }

    [Fact]
    public async Task Bodies_over_the_limit_are_refused_before_anything_is_written()
    {
        await using var temp = new TempStore(o => o.MaxBodyBytes = 100);
        ChatStore store = await temp.OpenAsync();

        Assert.Throws<ArgumentException>(() => { _ = store.AppendMessageAsync(1, 1, default, new byte[101], requireMembership: false); });
        Assert.Equal(WriteStatus.Ok, (await store.AppendMessageAsync(1, 1, default, new byte[100], requireMembership: false)).Status);
        Assert.Equal(1, store.GetConversation(1).Head);
    }

    [Fact]
    public async Task Many_concurrent_writers_into_one_conversation_get_every_seq_exactly_once()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync(fakeTime: false);

        WriteResult[] results = await Task.WhenAll(Enumerable.Range(1, 2000).Select(i =>
            store.AppendMessageAsync(9, i % 7, new ClientMessageId(1, (ulong)i), BitConverter.GetBytes(i), requireMembership: false).AsTask()));

        Assert.Equal(Enumerable.Range(1, 2000).Select(i => (long)i), results.Select(r => r.Seq).Order());
        var page = new MessagePage();
        store.ReadRange(9, 1, 5000, page);
        Assert.Equal(2000, page.Messages.Count);
        foreach (WriteResult result in results)
        {
            StoredMessage message = page.Messages[(int)result.Seq - 1];
            Assert.Equal(result.Seq, message.Seq);
            Assert.Equal((long)message.ClientId.Low, BitConverter.ToInt32(message.Body.Span));
        }
        Assert.True(store.Stats.Batches < 2000, "writes arriving together share group commits");
    }
}
