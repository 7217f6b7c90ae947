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
    // The reader's wait: continuations run on the thread pool, never on the writing thread (which is a session's).
    private ManualResetValueTaskSourceCore<bool> _readable = new() { RunContinuationsAsynchronously = true };

    public WriteQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>Nothing waiting (a snapshot: a write may land right after).</summary>
    public bool IsEmpty => Volatile.Read(ref _count) == 0;

    /// <summary>Queues <paramref name="command"/>; false when the queue is full or closed (nothing queued).</summary>
    public bool TryWrite(WriteCommand command)
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
        if (wake)
        {
            _readable.SetResult(true);
        }
        return true;
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
            _readable.SetResult(true);
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
            _readable.SetResult(left);
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
