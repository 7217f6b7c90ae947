using ChatGateway.Storage.Writing;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// A thread that queues a burst of writes with callbacks inside <see cref="ChatStore.DeferWriterWakes"/> runs the idle
/// writer itself at <see cref="ChatStore.RunDeferredWriterWakes"/>: one batch for the burst, its callbacks told there
/// (Relaxed mode), nothing told before, and a backlog beyond that batch left to the pool (on one core, taken there too). And the writer tells an
/// <see cref="IWriteBatchObserver"/> before and after each batch's callbacks.
/// </summary>
public sealed class DeferredWriterWakeTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    /// <summary>Records each outcome with the thread it was told on; optionally queues one more write when first told.</summary>
    private sealed class Recorder : IWriteCallback
    {
        public readonly List<(WriteResult Result, int Thread)> Told = [];
        public readonly TaskCompletionSource AllTold = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Expected = int.MaxValue;
        public Action? OnFirst;

        public void Written(in WriteResult result)
        {
            int count;
            lock (Told)
            {
                Told.Add((result, Environment.CurrentManagedThreadId));
                count = Told.Count;
            }
            if (count == 1)
            {
                OnFirst?.Invoke();
            }
            if (count == Expected)
            {
                AllTold.TrySetResult();
            }
        }

        public void Failed(Exception error) => AllTold.TrySetException(error);

        public int Count
        {
            get
            {
                lock (Told)
                {
                    return Told.Count;
                }
            }
        }
    }

    /// <summary>A store whose writer waits for writes, its member set up (the ticker never fires: fake time).</summary>
    private static async Task<ChatStore> IdleStoreAsync(TempStore temp)
    {
        ChatStore store = await temp.OpenAsync();
        await store.AddMemberAsync(7, 1);
        using var timeout = new CancellationTokenSource(Patience);
        while (!store.WriterWaiting)
        {
            await Task.Delay(1, timeout.Token); // the writer finishes the batch that answered us, then waits
        }
        return store;
    }

    private static void Append(ChatStore store, int i, IWriteCallback callback) =>
        Assert.True(store.TryAppendMessage(7, 1, 0, new ClientMessageId(1, (ulong)i + 1), BitConverter.GetBytes(i), callback));

    /// <summary>Queues <paramref name="count"/> messages inside the deferral, checks nothing was told meanwhile, then ends it.</summary>
    private static void AppendDeferred(ChatStore store, int count, Recorder recorder)
    {
        ChatStore.DeferWriterWakes();
        try
        {
            for (int i = 0; i < count; i++)
            {
                Append(store, i, recorder);
            }
            Assert.Equal(0, recorder.Count); // the writer was idle and its wake is owed: nothing ran yet
        }
        finally
        {
            ChatStore.RunDeferredWriterWakes();
        }
    }

    [Theory]
    [InlineData(DurabilityMode.Relaxed)]
    [InlineData(DurabilityMode.Commit)]
    public async Task A_deferred_burst_is_one_batch_run_by_the_queueing_thread(DurabilityMode durability)
    {
        await using var temp = new TempStore(o => o.Durability = durability);
        ChatStore store = await IdleStoreAsync(temp);
        long batchesBefore = store.Stats.Batches;
        var recorder = new Recorder { Expected = 10 };
        int thread = Environment.CurrentManagedThreadId;

        AppendDeferred(store, 10, recorder);

        if (durability == DurabilityMode.Relaxed)
        {
            // No commit to wait for: the batch ran, and was told, inside the call, on this thread.
            Assert.Equal(10, recorder.Count);
            Assert.All(recorder.Told, t => Assert.Equal(thread, t.Thread));
        }
        await recorder.AllTold.Task.WaitAsync(Patience); // Commit: told once the commit completes, elsewhere
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), recorder.Told.Select(t => t.Result.Seq));
        Assert.Equal(batchesBefore + 1, store.Stats.Batches);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(1)]
    public async Task A_write_queued_during_the_borrowed_batch_is_taken_on_the_pool_unless_on_one_core(int cores)
    {
        await using var temp = new TempStore(o =>
        {
            o.Durability = DurabilityMode.Relaxed;
            o.ProcessorCount = cores;
        });
        ChatStore store = await IdleStoreAsync(temp);
        var late = new Recorder { Expected = 1 };
        var first = new Recorder();
        // Queued from inside the first batch's callback, on the borrowed thread: a backlog when that batch ends.
        first.OnFirst = () => Append(store, 1, late);
        int thread = Environment.CurrentManagedThreadId;
        bool inCall = true;
        bool lateToldInCall = false;
        late.OnFirst = () => lateToldInCall = Volatile.Read(ref inCall);

        ChatStore.DeferWriterWakes();
        try
        {
            Append(store, 0, first);
        }
        finally
        {
            ChatStore.RunDeferredWriterWakes();
            Volatile.Write(ref inCall, false);
        }

        Assert.Equal(1, first.Count);
        await late.AllTold.Task.WaitAsync(Patience);
        Assert.Equal(2, late.Told[0].Result.Seq);
        bool takenHere = late.Told[0].Thread == thread && lateToldInCall;
        if (cores == 1)
        {
            // One core: the borrowed thread took the backlog too, before the call returned (a pool thread would share its core).
            Assert.True(takenHere);
        }
        else
        {
            // The borrowed thread ran one batch and gave the rest to the pool: the late write was not told on it during the call.
            Assert.False(takenHere);
        }
    }

    /// <summary>Told outcomes one at a time; each queues the next write (up to Expected) and notes whether it was told during the call.</summary>
    private sealed class Chain(ChatStore store, int thread) : IWriteCallback
    {
        public readonly TaskCompletionSource AllTold = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly List<long> Seqs = [];
        public const int Expected = 40;
        public volatile bool InCall = true;
        public int ToldInCall;

        public void Written(in WriteResult result)
        {
            Seqs.Add(result.Seq); // told in order, one batch after another: no lock needed
            if (InCall && Environment.CurrentManagedThreadId == thread)
            {
                ToldInCall++;
            }
            if (Seqs.Count < Expected)
            {
                Append(store, Seqs.Count, this); // a backlog of one when this batch ends
            }
            else
            {
                AllTold.TrySetResult();
            }
        }

        public void Failed(Exception error) => AllTold.TrySetException(error);
    }

    [Fact]
    public async Task On_one_core_the_borrowed_thread_takes_at_most_a_bounded_number_of_batches()
    {
        await using var temp = new TempStore(o =>
        {
            o.Durability = DurabilityMode.Relaxed;
            o.ProcessorCount = 1;
        });
        ChatStore store = await IdleStoreAsync(temp);
        var chain = new Chain(store, Environment.CurrentManagedThreadId);

        ChatStore.DeferWriterWakes();
        try
        {
            Append(store, 0, chain);
        }
        finally
        {
            ChatStore.RunDeferredWriterWakes();
            chain.InCall = false;
        }

        // Each batch's callback queued the next write: the borrowed thread ran MaxBatchesOnSubmitter of them, the pool the rest.
        Assert.Equal(StoreWriter.MaxBatchesOnSubmitter, chain.ToldInCall);
        await chain.AllTold.Task.WaitAsync(Patience);
        Assert.Equal(Enumerable.Range(1, Chain.Expected).Select(i => (long)i), chain.Seqs);
    }

    [Fact]
    public async Task Without_the_deferral_a_write_wakes_the_writer_at_once()
    {
        await using var temp = new TempStore(o => o.Durability = DurabilityMode.Relaxed);
        ChatStore store = await IdleStoreAsync(temp);
        var recorder = new Recorder { Expected = 1 };
        ChatStore.DeferWriterWakes();
        ChatStore.RunDeferredWriterWakes(); // a closed bracket leaves nothing behind

        Append(store, 0, recorder);

        await recorder.AllTold.Task.WaitAsync(Patience);
    }

    /// <summary>Records the order of its calls and of the callbacks it brackets, with threads.</summary>
    private sealed class Observer(List<string> log) : IWriteBatchObserver
    {
        public readonly TaskCompletionSource Told = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OutcomesStarting()
        {
            lock (log)
            {
                log.Add($"starting@{Environment.CurrentManagedThreadId}");
            }
        }

        public void OutcomesTold()
        {
            lock (log)
            {
                log.Add($"told@{Environment.CurrentManagedThreadId}");
            }
            Told.TrySetResult();
        }
    }

    private sealed class LoggingCallback(List<string> log, bool throws) : IWriteCallback
    {
        public void Written(in WriteResult result)
        {
            lock (log)
            {
                log.Add($"written {result.Seq}@{Environment.CurrentManagedThreadId}");
            }
            if (throws)
            {
                throw new InvalidOperationException("a callback's bug");
            }
        }

        public void Failed(Exception error)
        {
        }
    }

    [Fact]
    public async Task The_batch_observer_is_told_around_each_batch_s_callbacks_on_their_thread_even_when_one_throws()
    {
        await using var temp = new TempStore(o => o.Durability = DurabilityMode.Relaxed);
        ChatStore store = await IdleStoreAsync(temp);
        var log = new List<string>();
        var observer = new Observer(log);
        store.ObserveBatches(observer);

        ChatStore.DeferWriterWakes(); // one batch for the three
        try
        {
            Append(store, 0, new LoggingCallback(log, throws: false));
            Append(store, 1, new LoggingCallback(log, throws: true));
            Append(store, 2, new LoggingCallback(log, throws: false));
        }
        finally
        {
            ChatStore.RunDeferredWriterWakes();
        }
        await observer.Told.Task.WaitAsync(Patience);

        int thread = Environment.CurrentManagedThreadId;
        Assert.Equal([$"starting@{thread}", $"written 1@{thread}", $"written 2@{thread}", $"written 3@{thread}", $"told@{thread}"], log);

        store.ObserveBatches(null);
        await store.AppendMessageAsync(7, 1, default, [1]);
        Assert.Equal(5, log.Count); // no longer told
    }
}
