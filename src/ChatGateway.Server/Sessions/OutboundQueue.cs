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

    // Guarded by lock (this), the session: a separate lock object would cost ~40 bytes per connection. The session
    // takes no other lock on itself.
    private OutboundFrame[]? _ring;
    private int _head;
    private int _count;
    private long _bytes;
    private bool _draining;
    private bool _completed;

    // The batch being written when a write did not complete synchronously (the client's TCP window is full).
    private OutboundFrame[]? _writing;
    private int _writingCount;
    private long _writingBytes;

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
            lock (this)
            {
                return _bytes;
            }
        }
    }

    /// <summary>Queues <paramref name="frame"/>, taking over the caller's reference (released here unless queued).</summary>
    protected EnqueueResult TryEnqueue(OutboundFrame frame)
    {
        lock (this)
        {
            if (_completed || _count == MaxFrames || _bytes + frame.Length > MaxBytes)
            {
                frame.Release();
                return _completed ? EnqueueResult.Closed : EnqueueResult.Full;
            }
            if (!Add(frame))
            {
                return EnqueueResult.Queued;
            }
        }
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
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
        lock (this)
        {
            if (_completed || _bytes + length > MaxBytes)
            {
                return _completed ? EnqueueResult.Closed : EnqueueResult.Full;
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
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: true);
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
        if (_draining)
        {
            return false;
        }
        _draining = true;
        return true;
    }

    /// <summary>No more frames: those waiting are dropped (the client syncs on reconnect), later ones are refused.</summary>
    protected void CompleteOutbound()
    {
        lock (this)
        {
            _completed = true;
            if (!_draining)
            {
                DropAll();
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
            lock (this)
            {
                if (_completed)
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
                    _draining = false;
                    ReturnRing();
                    t_batch = batch;
                    return;
                }
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
        lock (this)
        {
            _bytes -= bytes;
            if (sent)
            {
                return true;
            }
            _completed = true;
            DropAll();
            _draining = false;
            return false;
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
