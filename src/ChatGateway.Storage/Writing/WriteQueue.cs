using System.Threading.Tasks.Sources;

namespace ChatGateway.Storage.Writing;

/// <summary>
/// The writer's bounded queue: any thread writes, the writer alone reads, a batch at a time. It replaces a bounded
/// <c>Channel</c>, which took its lock (a <c>Monitor</c>, native code) once for every write and once more for every
/// read: with one command per chat message, ~3% of the server's CPU in <c>pairs</c> (perf, session 17). Here a write
/// takes a <see cref="Lock"/> once and the writer takes a whole batch under one, so the per-read lock is gone; the
/// write's <see cref="Lock"/> measured about what its <c>Monitor</c> cost (~2%).
/// <para>
/// Bound: <see cref="StoreOptions.WriteQueueCapacity"/> commands waiting. When full, <see cref="TryWrite"/> refuses
/// at once and <see cref="WriteAsync"/> waits, first come first served, until the writer has taken enough to make
/// room (those waiting writes are not counted in the bound: each is one caller that awaits it). Once closed, writes
/// are refused (and waiting ones are told so), and the reader takes what is left before it is told the end.
/// </para>
/// </summary>
internal sealed class WriteQueue : IValueTaskSource<bool>
{
    private readonly Lock _lock = new();
    private readonly Queue<WriteCommand> _items = new();
    private readonly Queue<(WriteCommand Command, TaskCompletionSource<bool> Room)> _waitingWriters = new();
    private readonly int _capacity;
    private int _count; // written under the lock, read without it by IsEmpty
    private bool _closed;
    private bool _readerWaiting;
    // The reader's wait. Its continuation runs on the thread pool, never on the writing thread (a session's), except
    // when that thread deferred the wake and runs it at a point of its choosing (DeferWakes).
    private ManualResetValueTaskSourceCore<bool> _readable = new() { RunContinuationsAsynchronously = true };
    private bool _readerOnWriterThread; // the reader was woken inline by RunDeferredWakes (read and cleared by the reader)

    // The queues whose reader this thread owes a wake (DeferWakes), at most MaxDeferredWakes.
    private const int MaxDeferredWakes = 64;
    [ThreadStatic]
    private static List<WriteQueue>? t_deferredWakes;
    [ThreadStatic]
    private static bool t_deferring;

    public WriteQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>The reader waits for a write, not yet woken (a snapshot).</summary>
    public bool ReaderWaiting
    {
        get
        {
            lock (_lock)
            {
                return _readerWaiting;
            }
        }
    }

    /// <summary>Nothing waiting (a snapshot: a write may land right after).</summary>
    public bool IsEmpty => Volatile.Read(ref _count) == 0;

    /// <summary>
    /// Queues <paramref name="command"/>; false when the queue is full or closed (nothing queued). With
    /// <paramref name="mayDeferWake"/>, a thread inside <see cref="DeferWakes"/> that finds the reader waiting leaves
    /// the wake to its <see cref="RunDeferredWakes"/>.
    /// </summary>
    public bool TryWrite(WriteCommand command, bool mayDeferWake = false)
    {
        bool wake;
        lock (_lock)
        {
            if (_closed || _count >= _capacity)
            {
                return false;
            }
            Add(command);
            wake = TakeReaderWaiting();
        }
        if (wake && !(mayDeferWake && TryDeferWake()))
        {
            WakeReader(onThisThread: false, result: true);
        }
        return true;
    }

    /// <summary>
    /// Until <see cref="RunDeferredWakes"/> on this thread, a <see cref="TryWrite"/> allowed to defer that finds the
    /// reader (the store's writer) waiting does not wake it on the pool: <see cref="RunDeferredWakes"/> runs it here.
    /// For a thread that queues a burst (a session's read of many requests) and then has nothing left to do: the
    /// writer takes the whole burst as one batch, and no pool thread is woken and parked again per burst. Writes from
    /// other threads meanwhile find the reader already owed its wake and queue behind it; the wake is owed at most
    /// for as long as this thread takes to reach <see cref="RunDeferredWakes"/>, which must be in a finally.
    /// </summary>
    public static void DeferWakes() => t_deferring = true;

    /// <summary>
    /// Ends <see cref="DeferWakes"/> and runs, here, each reader it owes a wake, in turn: each takes one batch on this
    /// thread (more than one batch's worth waiting goes on on the pool: see <see cref="TakeReaderOnWriterThread"/>).
    /// </summary>
    public static void RunDeferredWakes()
    {
        t_deferring = false;
        if (t_deferredWakes is not { Count: > 0 } owed)
        {
            return;
        }
        int next = 0;
        try
        {
            while (next < owed.Count)
            {
                owed[next++].WakeReader(onThisThread: true, result: true);
            }
        }
        finally
        {
            // A wake that threw (a bug) must not leave the other writers asleep for good: they are woken on the pool.
            while (next < owed.Count)
            {
                owed[next++].WakeReader(onThisThread: false, result: true);
            }
            owed.Clear();
        }
    }

    /// <summary>Owes this queue's reader its wake, on a thread inside <see cref="DeferWakes"/> with room on its list.</summary>
    private bool TryDeferWake()
    {
        if (!t_deferring)
        {
            return false;
        }
        List<WriteQueue> owed = t_deferredWakes ??= new List<WriteQueue>(MaxDeferredWakes);
        if (owed.Count == MaxDeferredWakes)
        {
            return false;
        }
        owed.Add(this);
        return true;
    }

    /// <summary>The reader: whether its last wait ended on a writing thread (<see cref="RunDeferredWakes"/>); cleared by reading it.</summary>
    public bool TakeReaderOnWriterThread()
    {
        bool borrowed = _readerOnWriterThread;
        _readerOnWriterThread = false;
        return borrowed;
    }

    private void WakeReader(bool onThisThread, bool result)
    {
        _readerOnWriterThread = onThisThread;
        _readable.RunContinuationsAsynchronously = !onThisThread;
        _readable.SetResult(result);
    }

    /// <summary>Queues <paramref name="command"/>, waiting for room while the queue is full; false when it is closed (nothing queued).</summary>
    public ValueTask<bool> WriteAsync(WriteCommand command)
    {
        TaskCompletionSource<bool> room;
        bool wake;
        lock (_lock)
        {
            if (_closed)
            {
                return ValueTask.FromResult(false);
            }
            if (_count >= _capacity || _waitingWriters.Count > 0) // behind those already waiting: first come, first served
            {
                room = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waitingWriters.Enqueue((command, room));
                return new ValueTask<bool>(room.Task);
            }
            Add(command);
            wake = TakeReaderWaiting();
        }
        if (wake)
        {
            WakeReader(onThisThread: false, result: true);
        }
        return ValueTask.FromResult(true);
    }

    /// <summary>
    /// The reader: moves up to <paramref name="max"/> commands, oldest first, into <paramref name="into"/> under one
    /// lock; writes that waited for room take the room made. Returns how many were moved.
    /// </summary>
    public int TakeUpTo(List<WriteCommand> into, int max)
    {
        int taken = 0;
        List<TaskCompletionSource<bool>>? admitted = null;
        lock (_lock)
        {
            while (taken < max && _items.TryDequeue(out WriteCommand? command))
            {
                into.Add(command);
                taken++;
            }
            Volatile.Write(ref _count, _count - taken);
            while (_count < _capacity && _waitingWriters.TryDequeue(out (WriteCommand Command, TaskCompletionSource<bool> Room) waiting))
            {
                Add(waiting.Command);
                (admitted ??= []).Add(waiting.Room);
            }
        }
        if (admitted is not null)
        {
            foreach (TaskCompletionSource<bool> room in admitted)
            {
                room.SetResult(true);
            }
        }
        return taken;
    }

    /// <summary>
    /// The reader: completes with true once a command waits (at once if one does), with false once the queue is closed
    /// and empty. One wait at a time, from the one reader.
    /// </summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_lock)
        {
            if (_count > 0)
            {
                return ValueTask.FromResult(true);
            }
            if (_closed)
            {
                return ValueTask.FromResult(false);
            }
            _readable.Reset(); // the previous wait's result was read: the reader is here again
            _readerWaiting = true;
            return new ValueTask<bool>(this, _readable.Version);
        }
    }

    /// <summary>Refuses writes from now on, and tells those waiting for room; the reader still takes what is queued.</summary>
    public void Close()
    {
        bool wake, left;
        List<TaskCompletionSource<bool>> refused = [];
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            while (_waitingWriters.TryDequeue(out (WriteCommand Command, TaskCompletionSource<bool> Room) waiting))
            {
                refused.Add(waiting.Room);
            }
            wake = TakeReaderWaiting();
            left = _count > 0;
        }
        foreach (TaskCompletionSource<bool> room in refused)
        {
            room.SetResult(false);
        }
        if (wake)
        {
            WakeReader(onThisThread: false, result: left);
        }
    }

    private void Add(WriteCommand command)
    {
        _items.Enqueue(command);
        Volatile.Write(ref _count, _count + 1);
    }

    private bool TakeReaderWaiting()
    {
        if (!_readerWaiting)
        {
            return false;
        }
        _readerWaiting = false;
        return true;
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _readable.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _readable.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _readable.OnCompleted(continuation, state, token, flags);
}
