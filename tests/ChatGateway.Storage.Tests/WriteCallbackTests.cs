using ChatGateway.Storage.Reading;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// Writes whose outcome goes to an <see cref="IWriteCallback"/> on the writer (what the server's sequencers use):
/// told in the writer's order, bodies read from the caller's memory, a full queue refused at once, a failing store
/// reported, a throwing callback survived.
/// </summary>
public sealed class WriteCallbackTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Records every outcome in the order told.</summary>
    private sealed class Recorder : IWriteCallback
    {
        public readonly List<WriteResult> Results = [];
        public readonly List<Exception> Errors = [];

        public void Written(in WriteResult result)
        {
            lock (Results)
            {
                Results.Add(result);
            }
        }

        public void Failed(Exception error)
        {
            lock (Errors)
            {
                Errors.Add(error);
            }
        }
    }

    /// <summary>One write's outcome, awaitable.</summary>
    private sealed class Outcome : IWriteCallback
    {
        private readonly TaskCompletionSource<WriteResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<WriteResult> Task => _done.Task.WaitAsync(Patience);

        public bool IsTold => _done.Task.IsCompleted;

        public void Written(in WriteResult result) => _done.TrySetResult(result);

        public void Failed(Exception error) => _done.TrySetException(error);
    }

    [Fact]
    public async Task Callbacks_are_told_in_the_order_queued_with_each_conversations_seqs_gap_free_and_the_bodies_stored_as_given()
    {
        await using var temp = new TempStore(o => o.Durability = DurabilityMode.Commit);
        ChatStore store = await temp.OpenAsync();
        long[] conversations = [11, 12, 13, 14];
        foreach (long conversation in conversations)
        {
            await store.AddMemberAsync(conversation, 1);
        }
        const int Messages = 2_000;
        var recorder = new Recorder();
        byte[][] bodies = new byte[Messages][];
        for (int i = 0; i < Messages; i++)
        {
            bodies[i] = BitConverter.GetBytes(i);
            Assert.True(store.TryAppendMessage(conversations[i % 4], 1, 0, new ClientMessageId(1, (ulong)i + 1), bodies[i], recorder));
        }
        await store.FlushAsync().WaitAsync(Patience); // every write queued before it has been told

        Assert.Empty(recorder.Errors);
        Assert.Equal(Messages, recorder.Results.Count);
        for (int i = 0; i < Messages; i++)
        {
            WriteResult result = recorder.Results[i];
            Assert.Equal(WriteStatus.Ok, result.Status);
            Assert.Equal(conversations[i % 4], result.Conversation);
            Assert.Equal(i / 4 + 1, result.Seq);
        }
        var page = new MessagePage();
        store.ReadRange(13, 1, Messages, page);
        Assert.Equal(Enumerable.Range(0, Messages).Where(i => i % 4 == 2), page.Messages.Select(m => BitConverter.ToInt32(m.Body.Span)));
    }

    [Fact]
    public async Task Membership_and_dedupe_are_decided_as_for_awaited_writes()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.AddMemberAsync(5, 1);

        var notMember = new Outcome();
        Assert.True(store.TryAppendMessage(5, 2, 0, default, "x"u8.ToArray(), notMember));
        Assert.Equal(WriteStatus.NotMember, (await notMember.Task).Status);

        var first = new Outcome();
        var again = new Outcome();
        Assert.True(store.TryAppendMessage(5, 1, 0, new ClientMessageId(1, 7), "once"u8.ToArray(), first));
        Assert.True(store.TryAppendMessage(5, 1, 0, new ClientMessageId(1, 7), "once"u8.ToArray(), again));
        Assert.Equal((WriteStatus.Ok, 1L), ((await first.Task).Status, (await first.Task).Seq));
        Assert.Equal(WriteStatus.Duplicate, (await again.Task).Status);
        Assert.Equal(1, (await again.Task).Seq);

        // A 1:1 pair's first message creates the conversation with both members.
        var direct = new Outcome();
        Assert.True(store.TryAppendMessage(99, 3, 4, default, "hi"u8.ToArray(), direct));
        WriteResult created = await direct.Task;
        Assert.True(created.Created);
        Assert.True(store.IsMember(99, 4));
    }

    [Fact]
    public async Task Changing_several_members_in_one_command_reports_who_changed()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.AddMemberAsync(8, 2);

        long[] adding = [1, 2, 3];
        var added = new Outcome();
        Assert.True(store.TryChangeMembers(8, adding, add: true, added));
        Assert.Equal(WriteStatus.Ok, (await added.Task).Status);
        Assert.Equal(2, (await added.Task).Seq);
        Assert.Equal(new long[] { 1, 3 }, adding[..2]); // rewritten in place: who joined

        long[] removing = [9, 3];
        var removed = new Outcome();
        Assert.True(store.TryChangeMembers(8, removing, add: false, removed));
        Assert.Equal(1, (await removed.Task).Seq);
        Assert.Equal(3, removing[0]);

        var none = new Outcome();
        Assert.True(store.TryChangeMembers(8, [9], add: false, none));
        Assert.Equal(WriteStatus.NoChange, (await none.Task).Status);

        var members = new List<long>();
        store.GetMembers(8, members);
        Assert.Equal(new long[] { 1, 2 }, members.Order());
        store = await temp.ReopenAsync(); // journaled like single changes
        store.GetMembers(8, members);
        Assert.Equal(new long[] { 1, 2 }, members.Order());
    }

    [Fact]
    public async Task A_full_write_queue_refuses_at_once_and_takes_writes_again_once_it_drains()
    {
        await using var temp = new TempStore(o => o.WriteQueueCapacity = 4);
        ChatStore store = await temp.OpenAsync();
        await store.AddMemberAsync(1, 1);

        // A callback that holds the writer (which callbacks must never do) keeps the queue from draining.
        using var release = new ManualResetEventSlim();
        var holding = new Holding(release);
        Assert.True(store.TryAppendMessage(1, 1, 0, default, "hold"u8.ToArray(), holding));
        await holding.Entered.Task.WaitAsync(Patience);

        var recorder = new Recorder();
        int queued = 0;
        while (store.TryAppendMessage(1, 1, 0, default, "x"u8.ToArray(), recorder))
        {
            queued++;
            Assert.True(queued <= 4, "the queue took more than its capacity");
        }
        Assert.Equal(4, queued);

        release.Set();
        await store.FlushAsync().WaitAsync(Patience);
        Assert.Equal(Enumerable.Range(2, 4).Select(i => (long)i), recorder.Results.Select(r => r.Seq));
        var next = new Outcome();
        Assert.True(store.TryAppendMessage(1, 1, 0, default, "x"u8.ToArray(), next));
        Assert.Equal(6, (await next.Task).Seq);
    }

    private sealed class Holding(ManualResetEventSlim release) : IWriteCallback
    {
        public readonly TaskCompletionSource Entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Written(in WriteResult result)
        {
            Entered.TrySetResult();
            release.Wait(Patience);
        }

        public void Failed(Exception error) => Entered.TrySetException(error);
    }

    [Fact]
    public async Task A_callback_that_throws_does_not_stop_the_store()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.AddMemberAsync(1, 1);

        Assert.True(store.TryAppendMessage(1, 1, 0, default, "a"u8.ToArray(), new Throwing()));
        var next = new Outcome();
        Assert.True(store.TryAppendMessage(1, 1, 0, default, "b"u8.ToArray(), next));
        Assert.Equal(2, (await next.Task).Seq);
        Assert.Equal(3, (await store.AppendMessageAsync(1, 1, default, "c"u8)).Seq);
    }

    private sealed class Throwing : IWriteCallback
    {
        public void Written(in WriteResult result) => throw new InvalidOperationException("a bug in the caller");

        public void Failed(Exception error) => throw new InvalidOperationException("a bug in the caller");
    }

    [Fact]
    public async Task A_store_stopped_by_a_failed_journal_write_tells_the_callbacks_and_a_closed_store_refuses()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.AddMemberAsync(4, 1);
        store.JournalDevice!.InjectedWriteError = 5; // EIO

        var lost = new Outcome();
        Assert.True(store.TryAppendMessage(4, 1, 0, default, "lost"u8.ToArray(), lost));
        await Assert.ThrowsAnyAsync<StoreException>(() => lost.Task);

        // Stopped: a later write is taken and told at once, on the caller's thread.
        var later = new Outcome();
        Assert.True(store.TryAppendMessage(4, 1, 0, default, "later"u8.ToArray(), later));
        Assert.True(later.IsTold);
        await Assert.ThrowsAsync<StoreFaultedException>(() => later.Task);

        await store.DisposeAsync().AsTask().WaitAsync(Patience);
        Assert.False(store.TryAppendMessage(4, 1, 0, default, "closed"u8.ToArray(), new Outcome()));
    }
}
