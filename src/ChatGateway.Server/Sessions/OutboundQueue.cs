using System.Buffers;
using ChatGateway.WebSockets.Connections;
using ChatGateway.WebSockets.Framing;

namespace ChatGateway.Server.Sessions;

/// <summary>Frames taken from the queue in order, written back to back into the connection's output: one flush for the lot.</summary>
public readonly struct FrameBatch(OutboundFrame[] frames, int count) : IFrameBatch
{
    public int Count => count;

    public void WriteTo(IBufferWriter<byte> output)
    {
        for (int i = 0; i < count; i++)
        {
            output.Write(frames[i].Bytes);
        }
    }
}

/// <summary>
/// A session's bounded outbound queue and its writer. Frames come from any thread; one drain at a time writes them,
/// and it runs only while frames wait: scheduled on the thread pool by the enqueue that finds the queue idle, it
/// loops until the queue is empty and then ends. An idle session holds neither a buffer (the ring is taken from a
/// pool while frames wait) nor a parked loop: the Channel and the permanent write loop this replaces cost
/// ~1.3 KB per idle connection (dotnet-gcdump, 5,000 idle sessions), most connections being idle.
/// Bounds: <see cref="MaxFrames"/> frames and <see cref="MaxBytes"/> bytes; past either <see cref="TryEnqueue"/>
/// answers <see cref="EnqueueResult.Full"/> and the caller closes the session as a slow consumer.
/// <para>
/// A base class, not an object of its own: the session derives from it (<see cref="ChatSession"/>), so a connection
/// pays for the queue's fields and not for a second object, its header and the references both ways (48 B per
/// connection, most connections being idle). The frames leave through <see cref="WriteAsync"/>; the limits are read
/// from the derived class, which shares them between all sessions.
/// </para>
/// </summary>
public abstract class OutboundQueue : IThreadPoolWorkItem
{
    public enum EnqueueResult
    {
        Queued,
        /// <summary>The queue was completed (the session is closing): the frame was released.</summary>
        Closed,
        /// <summary>Over a bound: the frame was released and the queue left as it was.</summary>
        Full,
    }

    private const int MaxFramesPerFlush = 64;
    private const int MaxBytesPerFlush = 256 * 1024;
    private const int InitialRing = 64; // a burst of one flush; beyond it (a consumer falling behind) rings grow from the ArrayPool
    private const int MaxPooledRings = 4096; // 4,096 × 536 bytes at most

    // Sessions go from idle to busy and back all the time (each message to a mostly idle user is an episode), so
    // their first ring and the drain's batch array come from pools of our own: the shared ArrayPool's per-core
    // stacks ran dry with thousands of sessions in flight and fell back to allocating (gc-verbose trace).
    private static readonly System.Collections.Concurrent.ConcurrentQueue<OutboundFrame[]> SmallRings = new();
    [ThreadStatic]
    private static OutboundFrame[]? t_batch;

    // The session whose own input this thread is handling (BeginOwnInput), and whether a drain is owed for it.
    [ThreadStatic]
    private static OutboundQueue? t_ownInput;
    [ThreadStatic]
    private static bool t_drainOwed;

    // The drains this thread runs itself at the end of a store batch's outcomes (DeferDrains), instead of waking pool threads.
    [ThreadStatic]
    private static DeferredDrains? t_deferred;

    // The queue's lock and its two flags share one int (see Enter): 2 bytes more than the two bools it replaces,
    // where a lock object would cost ~40 bytes per connection. The fields below are guarded by it.
    private const int Locked = 1, Draining = 2, Completed = 4;
    private int _state;
    private OutboundFrame[]? _ring;
    private int _head;
    private int _count;
    private long _bytes;

    // The batch being written when a write did not complete synchronously (the client's TCP window is full).
    private OutboundFrame[]? _writing;
    private int _writingCount;
    private long _writingBytes;

    private bool IsDraining => (_state & Draining) != 0;

    private bool IsCompleted => (_state & Completed) != 0;

    /// <summary>Sets or clears a flag; only under the lock (no other thread writes the state while it is held).</summary>
    private void SetFlag(int flag, bool on) => _state = on ? _state | flag : _state & ~flag;

    /// <summary>
    /// Takes the queue's lock: one compare-and-swap when free. The sections it guards are a few ring operations, so a
    /// waiter spins (yielding the core to the holder, never sleeping a whole millisecond) rather than parking. It
    /// replaces <c>lock (this)</c>, whose Monitor calls into the runtime's native code on every enter and exit:
    /// 3.8% of the server's CPU in <c>pairs</c> for the writer's acks and Delivers (perf, session 17).
    /// </summary>
    private void Enter()
    {
        int state = _state;
        if ((state & Locked) != 0 || Interlocked.CompareExchange(ref _state, state | Locked, state) != state)
        {
            EnterContended();
        }
    }

    private void EnterContended()
    {
        SpinWait spin = default;
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if ((state & Locked) == 0 && Interlocked.CompareExchange(ref _state, state | Locked, state) == state)
            {
                return;
            }
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Releases the lock, publishing the section's writes (a release store).</summary>
    private void Exit() => Volatile.Write(ref _state, _state & ~Locked);

    /// <summary>The most frames waiting; one more is refused (<see cref="EnqueueResult.Full"/>).</summary>
    protected abstract int MaxFrames { get; }

    /// <summary>The most bytes waiting, the batch being written included.</summary>
    protected abstract long MaxBytes { get; }

    /// <summary>Writes <paramref name="batch"/> to the client, one flush for the lot; false once the connection can take no more.</summary>
    protected abstract ValueTask<bool> WriteAsync(FrameBatch batch);

    /// <summary>Frames and bytes waiting, the batch being written included.</summary>
    protected long QueuedBytes
    {
        get
        {
            Enter();
            long bytes = _bytes;
            Exit();
            return bytes;
        }
    }

    /// <summary>Queues <paramref name="frame"/>, taking over the caller's reference (released here unless queued).</summary>
    protected EnqueueResult TryEnqueue(OutboundFrame frame)
    {
        Enter();
        try
        {
            if (IsCompleted || _count == MaxFrames || _bytes + frame.Length > MaxBytes)
            {
                frame.Release();
                return IsCompleted ? EnqueueResult.Closed : EnqueueResult.Full;
            }
            if (!Add(frame))
            {
                return EnqueueResult.Queued;
            }
        }
        finally
        {
            Exit();
        }
        ScheduleDrain();
        return EnqueueResult.Queued;
    }

    /// <summary>
    /// Queues a small answer (an Ack, an Ok: a payload of at most <see cref="MaxSmallPayload"/> bytes) as a frame of
    /// its own, written into the frame at the queue's tail when that one already carries such answers and has room.
    /// A sender's acks arrive in bursts (a writer batch completes thousands of sends at once); renting, queueing,
    /// writing out and releasing a pooled frame per ack was the largest single cost on the send path (the frame
    /// cold in the cache: <c>OutboundFrame.Rent</c> 8% of the server's CPU in pairs, perf).
    /// Bounds as for <see cref="TryEnqueue"/>: bytes count each answer, and an entry holding several counts once.
    /// </summary>
    protected EnqueueResult TryEnqueueSmall(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxSmallPayload)
        {
            throw new ArgumentOutOfRangeException(nameof(payload), "only small answers are coalesced");
        }
        int length = FrameWriter.HeaderLength(payload.Length) + payload.Length;
        Enter();
        try
        {
            if (IsCompleted || _bytes + length > MaxBytes)
            {
                return IsCompleted ? EnqueueResult.Closed : EnqueueResult.Full;
            }
            if (_count > 0 && _ring![(_head + _count - 1) % _ring.Length] is { CarriesSeveral: true } tail && tail.TryAppendFrame(payload))
            {
                _bytes += length; // the tail is still in the ring, so no drain has taken it: it is ours to extend
                return EnqueueResult.Queued;
            }
            if (_count == MaxFrames)
            {
                return EnqueueResult.Full;
            }
            OutboundFrame frame = OutboundFrame.RentForSmallFrames();
            frame.TryAppendFrame(payload); // fits: an empty frame holds far more than MaxSmallPayload
            if (!Add(frame))
            {
                return EnqueueResult.Queued;
            }
        }
        finally
        {
            Exit();
        }
        ScheduleDrain();
        return EnqueueResult.Queued;
    }

    /// <summary>The largest payload <see cref="TryEnqueueSmall"/> takes.</summary>
    public const int MaxSmallPayload = 128;

    /// <summary>Puts <paramref name="frame"/> in the ring (under the lock); true when the caller must schedule the drain.</summary>
    private bool Add(OutboundFrame frame)
    {
        if (_ring is null || _count == _ring.Length)
        {
            Grow();
        }
        _ring![(_head + _count) % _ring.Length] = frame;
        _count++;
        _bytes += frame.Length;
        if (IsDraining)
        {
            return false;
        }
        SetFlag(Draining, true);
        return true;
    }

    /// <summary>No more frames: those waiting are dropped (the client syncs on reconnect), later ones are refused.</summary>
    protected void CompleteOutbound()
    {
        Enter();
        try
        {
            SetFlag(Completed, true);
            if (!IsDraining)
            {
                DropAll();
            }
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Marks this thread as handling the session's own input until <see cref="EndOwnInput"/>: answers queued meanwhile
    /// (a heartbeat's Ok, an error) leave in one drain run right here at the end, instead of a thread-pool work item,
    /// whose queueing also woke a second pool thread that found nothing to do. At 18,000 idle connections that was
    /// a third of the context switches per heartbeat (docs/benchmarks.md, session 17). Only the synchronous part of
    /// the handling is covered: what runs after an await runs elsewhere and schedules as usual.
    /// </summary>
    protected void BeginOwnInput() => t_ownInput = this;

    /// <summary>Ends <see cref="BeginOwnInput"/>; runs the drain owed, if an answer found the queue idle. Call it in a finally.</summary>
    protected void EndOwnInput()
    {
        t_ownInput = null;
        if (t_drainOwed)
        {
            t_drainOwed = false;
            Drain();
        }
    }

    /// <summary>
    /// Until <see cref="RunDeferredDrains"/> on this thread, an enqueue that finds a queue idle leaves its drain to that
    /// call instead of queueing it on the pool. For a store's writer telling a batch's outcomes: each queue touched
    /// drains once, on this thread, with every frame the batch gave it, and no pool thread is woken for it. At 20,000
    /// msgs/s a message's ack and Deliver each woke a pool thread on a mostly idle core (about 7 context switches
    /// per message in all, docs/benchmarks.md, session 18). Past <see cref="DeferredDrains.Capacity"/> queues in one
    /// batch, further queues drain on the pool as before.
    /// </summary>
    public static void DeferDrains() => (t_deferred ??= new DeferredDrains()).Active = true;

    /// <summary>Ends <see cref="DeferDrains"/> on this thread and runs the drains owed, in the order they were owed.</summary>
    public static void RunDeferredDrains()
    {
        if (t_deferred is { Active: true } deferred)
        {
            deferred.Active = false;
            deferred.RunAll();
        }
    }

    /// <summary>The enqueue that found the queue idle starts its drain: at the end of the session's own input or of a store batch's outcomes, or on the pool.</summary>
    private void ScheduleDrain()
    {
        if (t_ownInput == this)
        {
            t_drainOwed = true;
            return;
        }
        if (t_deferred is { Active: true } deferred && deferred.TryAdd(this))
        {
            return;
        }
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
    }

    /// <summary>The queues whose drain a thread owes (<see cref="DeferDrains"/>); bounded by <see cref="Capacity"/>.</summary>
    private sealed class DeferredDrains
    {
        /// <summary>
        /// Queues owed at most: a batch into the largest group (<c>Chat:MaxGroupMembers</c>, 1,000 by default) with every
        /// member online. Running the owed drains when full instead, mid-batch, wrote each message to each member of
        /// a 1,000-member group on its own: 6× fewer deliveries per second in <c>group</c>.
        /// </summary>
        public const int Capacity = 1024;

        private readonly OutboundQueue[] _owed = new OutboundQueue[Capacity];
        private int _count;
        private bool _running;
        public bool Active;

        /// <summary>Owes <paramref name="queue"/>'s drain; false when full or while the owed drains run (the caller queues it on the pool).</summary>
        public bool TryAdd(OutboundQueue queue)
        {
            if (_running || _count == Capacity)
            {
                return false;
            }
            _owed[_count++] = queue;
            return true;
        }

        public void RunAll()
        {
            _running = true;
            int next = 0;
            try
            {
                while (next < _count)
                {
                    OutboundQueue queue = _owed[next];
                    _owed[next++] = null!;
                    queue.Drain();
                }
            }
            finally
            {
                // A drain that threw (a bug) must not leave the other queues marked as draining with nobody to drain
                // them: those go to the pool.
                while (next < _count)
                {
                    OutboundQueue queue = _owed[next];
                    _owed[next++] = null!;
                    ThreadPool.UnsafeQueueUserWorkItem(queue, preferLocal: false);
                }
                _count = 0;
                _running = false;
            }
        }
    }

    void IThreadPoolWorkItem.Execute() => Drain();

    /// <summary>Writes batches until the queue is empty; a write that must wait resumes here when it completes.</summary>
    private void Drain()
    {
        while (true)
        {
            OutboundFrame[] batch = t_batch ?? new OutboundFrame[MaxFramesPerFlush];
            t_batch = null;
            int count = 0;
            long bytes = 0;
            Enter();
            try
            {
                if (IsCompleted)
                {
                    DropAll();
                }
                while (count < MaxFramesPerFlush && bytes < MaxBytesPerFlush && _count > 0)
                {
                    OutboundFrame frame = _ring![_head];
                    _ring[_head] = null!;
                    _head = (_head + 1) % _ring.Length;
                    _count--;
                    batch[count++] = frame;
                    bytes += frame.Length;
                }
                if (count == 0)
                {
                    SetFlag(Draining, false);
                    ReturnRing();
                    t_batch = batch;
                    return;
                }
            }
            finally
            {
                Exit();
            }
            ValueTask<bool> write = WriteAsync(new FrameBatch(batch, count));
            if (!write.IsCompleted)
            {
                // Rare (backpressure): the continuation allocates, the steady state does not.
                (_writing, _writingCount, _writingBytes) = (batch, count, bytes);
                write.AsTask().ContinueWith(static (task, state) => ((OutboundQueue)state!).Resume(task), this,
                    CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                return;
            }
            if (!Written(batch, count, bytes, write.IsCompletedSuccessfully && write.Result))
            {
                return;
            }
        }
    }

    private void Resume(Task<bool> write)
    {
        OutboundFrame[] batch = _writing!;
        _writing = null;
        if (Written(batch, _writingCount, _writingBytes, write.IsCompletedSuccessfully && write.Result))
        {
            Drain();
        }
    }

    /// <summary>Releases a written batch; after a failed write the queue completes. Returns whether to go on draining.</summary>
    private bool Written(OutboundFrame[] batch, int count, long bytes, bool sent)
    {
        for (int i = 0; i < count; i++)
        {
            batch[i].Release();
            batch[i] = null!;
        }
        t_batch = batch;
        Enter();
        try
        {
            _bytes -= bytes;
            if (sent)
            {
                return true;
            }
            SetFlag(Completed, true);
            DropAll();
            SetFlag(Draining, false);
            return false;
        }
        finally
        {
            Exit();
        }
    }

    private void Grow()
    {
        OutboundFrame[] larger = _ring is null
            ? SmallRings.TryDequeue(out OutboundFrame[]? pooled) ? pooled : new OutboundFrame[InitialRing]
            : ArrayPool<OutboundFrame>.Shared.Rent(Math.Min(_ring.Length * 2, MaxFrames));
        for (int i = 0; i < _count; i++)
        {
            larger[i] = _ring![(_head + i) % _ring.Length];
        }
        ReturnRing();
        _ring = larger;
        _head = 0;
    }

    /// <summary>The ring goes back to the pool (cleared) once empty: an idle session holds none.</summary>
    private void ReturnRing()
    {
        if (_ring is not null)
        {
            Array.Clear(_ring);
            if (_ring.Length == InitialRing)
            {
                if (SmallRings.Count < MaxPooledRings)
                {
                    SmallRings.Enqueue(_ring);
                }
            }
            else
            {
                ArrayPool<OutboundFrame>.Shared.Return(_ring);
            }
            _ring = null;
            _head = 0;
        }
    }

    private void DropAll()
    {
        while (_count > 0)
        {
            OutboundFrame frame = _ring![_head];
            _ring[_head] = null!;
            _head = (_head + 1) % _ring.Length;
            _count--;
            _bytes -= frame.Length;
            frame.Release();
        }
        ReturnRing();
    }
}
