using ChatGateway.Storage.Reading;

namespace ChatGateway.Storage.Tests;

public sealed class LifecycleTests
{
    [Fact]
    public async Task A_clean_reopen_keeps_everything_and_the_incarnation()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        Assert.True(store.Recovery.Created);
        await store.AppendMessageAsync(1, 1, new ClientMessageId(1, 1), "kept"u8, requireMembership: false);
        store.SetPresence(42, lastSeenUnixMs: 123456, status: 2);
        long incarnation = store.Incarnation;

        store = await temp.ReopenAsync();

        Assert.False(store.Recovery.Created);
        Assert.False(store.Recovery.AfterCrash);
        Assert.Equal(0, store.Recovery.Replayed); // the shutdown checkpoint covered everything
        Assert.Equal(incarnation, store.Incarnation);
        var page = new MessagePage();
        store.ReadRange(1, 1, 10, page);
        Assert.Equal("kept"u8.ToArray(), page.Messages.Single().Body.ToArray());
        Assert.True(store.TryGetPresence(42, out PresenceInfo presence));
        Assert.Equal((123456L, 2), (presence.LastSeen, presence.Status));
        Assert.Equal(WriteStatus.Duplicate, (await store.AppendMessageAsync(1, 1, new ClientMessageId(1, 1), "kept"u8, requireMembership: false)).Status);
        Assert.Equal(2, (await store.AppendMessageAsync(1, 1, default, "next"u8, requireMembership: false)).Seq);
    }

    [Fact]
    public async Task A_store_spanning_many_pages_reopens_with_different_memory_settings()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        byte[] body = new byte[300];
        for (int batch = 0; batch < 40; batch++)
        {
            await Task.WhenAll(Enumerable.Range(0, 250).Select(i =>
                store.AppendMessageAsync(1 + i % 5, 1, default, body, requireMembership: false).AsTask())); // ~3.5 MiB in all
        }

        await store.DisposeAsync();
        temp.Options.JournalMemoryBytes = 32 << 20; // the page count changes, not the format
        temp.Options.IndexMemoryBytes = 64 << 20;
        store = await temp.OpenAsync();

        var page = new MessagePage();
        for (long conversation = 1; conversation <= 5; conversation++)
        {
            store.ReadRange(conversation, 1, 5000, page);
            Assert.Equal(Enumerable.Range(1, 2000).Select(s => (long)s), page.Messages.Select(m => m.Seq));
        }
    }

    [Fact]
    public async Task A_store_keeps_its_hash_table_size_when_the_setting_changes()
    {
        await using var temp = new TempStore(); // IndexHashBytes 1 MiB: 16,384 buckets
        ChatStore store = await temp.OpenAsync();
        await store.AppendMessageAsync(1, 1, new ClientMessageId(1, 1), "kept"u8, requireMembership: false);
        await store.CheckpointAsync(); // an index checkpoint laid out for 16,384 buckets
        Assert.Equal(16_384, store.Stats.IndexBuckets);

        // FASTER 2.6.5 recovers a checkpointed table at its own size (the store logs a warning that the setting
        // is not applied): an operator who raises the setting must not expect a larger table for this store.
        await store.DisposeAsync();
        temp.Options.IndexHashBytes = 4 << 20;
        var log = new ListLogger();
        store = await ChatStore.OpenAsync(temp.Options, log, temp.Time);
        try
        {
            Assert.Equal(16_384, store.Stats.IndexBuckets);
            Assert.Contains("has 1048576 bytes and keeps them", Assert.Single(log.Warnings));
            var page = new MessagePage();
            store.ReadRange(1, 1, 10, page);
            Assert.Equal("kept"u8.ToArray(), page.Messages.Single().Body.ToArray());
            Assert.Equal(WriteStatus.Duplicate, (await store.AppendMessageAsync(1, 1, new ClientMessageId(1, 1), "kept"u8, requireMembership: false)).Status);
        }
        finally
        {
            await store.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_new_store_takes_the_configured_table_and_counts_the_buckets_that_overflow_it()
    {
        await using var temp = new TempStore(options => options.IndexHashBytes = 64 << 10); // 1,024 buckets of 7 keys
        ChatStore store = await temp.OpenAsync();
        Assert.Equal(1_024, store.Stats.IndexBuckets);
        long overflowAtStart = store.Stats.IndexOverflowBuckets; // FASTER's overflow allocator starts a few in

        // Ids that share no dedupe block: a key per message (and one message block key per 64), 8,000 keys for 1,024 buckets.
        await Task.WhenAll(Enumerable.Range(1, 8_000).Select(i =>
            store.AppendMessageAsync(1 + i % 8, 1, ClientMessageId.FromGuid(Guid.NewGuid()), "x"u8, requireMembership: false).AsTask()));

        Assert.True(store.Stats.IndexOverflowBuckets > overflowAtStart + 100, $"{overflowAtStart} → {store.Stats.IndexOverflowBuckets} overflow buckets");
    }

    [Theory]
    [InlineData(3, true)]
    [InlineData(4, false)]
    public async Task Messages_and_counting_client_ids_take_a_key_each_in_format_3_and_one_per_64_in_format_4(int format, bool overflows)
    {
        await using var temp = new TempStore(options =>
        {
            options.IndexHashBytes = 64 << 10; // 1,024 buckets of 7 keys
            options.NewStoreFormat = format;
        });
        ChatStore store = await temp.OpenAsync();
        long overflowAtStart = store.Stats.IndexOverflowBuckets;

        // Each sender's ids count up, as the SDK makes them. Format 3: 16,000 message keys and as many dedupe keys;
        // format 4: 250 message blocks and 250 dedupe blocks.
        var sent = new List<WriteResult>();
        for (int round = 0; round < 2_000; round++)
        {
            sent.AddRange(await Task.WhenAll(Enumerable.Range(1, 8).Select(conversation =>
                store.AppendMessageAsync(conversation, conversation, new ClientMessageId(99, (ulong)round), "x"u8, requireMembership: false).AsTask())));
        }

        Assert.Equal(overflows, store.Stats.IndexOverflowBuckets > overflowAtStart + 100);
        WriteResult retry = await store.AppendMessageAsync(3, 3, new ClientMessageId(99, 1_234), "x"u8, requireMembership: false);
        Assert.Equal((WriteStatus.Duplicate, 1_235L), (retry.Status, retry.Seq));
        var page = new MessagePage();
        store.ReadRange(5, 1_990, 100, page);
        Assert.Equal(Enumerable.Range(1_990, 11).Select(s => (long)s), page.Messages.Select(m => m.Seq));
    }

    [Fact]
    public async Task An_index_whose_overflow_outnumbers_its_table_is_reported_at_the_checkpoint_once_per_doubling()
    {
        await using var temp = new TempStore(options => options.IndexHashBytes = 64 << 10); // 1,024 buckets
        var log = new ListLogger();
        ChatStore store = await ChatStore.OpenAsync(temp.Options, log, temp.Time);
        try
        {
            await store.CheckpointAsync();
            Assert.Empty(log.Warnings);

            // Ids that share no dedupe block: 12,000 keys.
            await Task.WhenAll(Enumerable.Range(1, 12_000).Select(i =>
                store.AppendMessageAsync(1 + i % 8, 1, ClientMessageId.FromGuid(Guid.NewGuid()), "x"u8, requireMembership: false).AsTask()));
            await store.CheckpointAsync();
            Assert.True(store.Stats.IndexOverflowBuckets > store.Stats.IndexBuckets, $"{store.Stats.IndexOverflowBuckets} overflow buckets");
            Assert.Contains("overflow buckets for its 1024 buckets", Assert.Single(log.Warnings));

            await store.CheckpointAsync(); // no new keys: not said again
            Assert.Single(log.Warnings);
        }
        finally
        {
            await store.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_second_open_of_the_same_directory_fails_clearly()
    {
        await using var temp = new TempStore();
        await temp.OpenAsync();

        StoreLockedException error = await Assert.ThrowsAsync<StoreLockedException>(() => ChatStore.OpenAsync(temp.Options));
        Assert.Contains("in use by another process", error.Message);
    }

    [Fact]
    public async Task A_checkpoint_truncates_the_journal_and_recovery_replays_only_what_follows_it()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        for (int i = 0; i < 100; i++)
        {
            await store.AppendMessageAsync(1, 1, default, new byte[100], requireMembership: false);
        }
        await store.CheckpointAsync();
        Assert.True(store.Stats.Checkpoints >= 1);
        await store.AppendMessageAsync(1, 1, default, "after"u8, requireMembership: false);

        store = await temp.ReopenAsync();

        Assert.Equal(101, store.GetConversation(1).Head);
    }

    [Fact]
    public async Task Writes_after_dispose_are_refused()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.DisposeAsync();

        Assert.Throws<ObjectDisposedException>(() => { _ = store.AppendMessageAsync(1, 1, default, "x"u8, requireMembership: false); });
    }

    [Fact]
    public async Task A_journal_that_lost_its_commit_metadata_is_refused_rather_than_reusing_seqs()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        for (int i = 1; i <= 20; i++)
        {
            await store.AppendMessageAsync(1, 1, new ClientMessageId(1, (ulong)i), "kept"u8, requireMembership: false);
        }
        await store.DisposeAsync(); // the shutdown checkpoint records where the journal had got to

        // What an operator copying only part of the folder, or a lost file, leaves: segments without commits.
        string journal = Path.Combine(temp.Directory, "journal");
        foreach (string file in System.IO.Directory.GetFiles(journal, "commit-metadata"))
        {
            File.Delete(file);
        }
        foreach (string folder in System.IO.Directory.GetDirectories(journal))
        {
            System.IO.Directory.Delete(folder, recursive: true); // FASTER's own commit files, on other platforms
        }

        StoreCorruptedException refused = await Assert.ThrowsAsync<StoreCorruptedException>(() => ChatStore.OpenAsync(temp.Options));
        Assert.Contains("would reuse sequence numbers", refused.Message);
    }
}
