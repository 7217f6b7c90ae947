using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// The input of a <see cref="DirectSocketConnection"/>: a <see cref="PipeReader"/> whose buffer is filled by
/// non-blocking receives straight from the socket, on the thread that asks.
/// <para>
/// Readiness, then read: when the reader needs bytes it tries a non-blocking receive; only when the socket has
/// nothing (would block) does it wait for the <see cref="ReadinessPoller"/> to report input (Linux), or else with
/// a zero-byte receive (<see cref="ReadableSignal"/>). An idle connection therefore holds no buffer and, with the
/// poller, no pending operation; a busy one receives without any asynchronous operation.
/// </para>
/// <para>
/// The poller is edge-triggered: it reports each arrival once, whether or not a read is waiting.
/// <see cref="_readiness"/> keeps a report no wait has consumed yet (<c>Signaled</c>), so the next wait reads at
/// once instead of sleeping through bytes that came in between.
/// </para>
/// <para>
/// One contiguous buffer from <see cref="ArrayPool{T}.Shared"/> (so every <see cref="ReadResult"/> is a single
/// segment, the parsers' fast path), returned to the pool whenever everything in it is consumed. It grows (by
/// doubling, copying what is unconsumed) only while the reader has examined everything and still asks for more:
/// the WebSocket layer does so only up to one whole frame, whose size it checked against its limit first, and a
/// hard bound (<c>maxBufferBytes</c>) fails a connection past it.
/// </para>
/// Thread-safety as for any <see cref="PipeReader"/>: one reader; <see cref="CancelPendingRead"/> from any thread.
/// </summary>
internal sealed class SocketPipeReader : PipeReader, IValueTaskSource<ReadResult>, IReadinessTarget
{
    /// <summary>The first buffer rented once bytes arrive; larger ones only for frames that need them.</summary>
    public const int MinimumBufferBytes = 4 * 1024;

    private readonly DirectSocketConnection _connection;
    private readonly int _maxBufferBytes;
    private readonly ReadinessPoller? _poller;
    private long _registration; // the poller's token, while registered
    private bool _registered;
    private int _readiness; // Idle, Waiting or Signaled: where the poller's last report stands
    private ReadableSignal? _readable; // the zero-byte receive, where there is no poller
    private ManualResetValueTaskSourceCore<ReadResult> _pending; // completes a read that had to wait
    private CancellationTokenRegistration _pendingCancellation;
    private byte[]? _buffer;
    private int _start; // first unconsumed byte
    private int _end; // one past the last received byte
    private bool _examinedAll; // the reader has seen [_start, _end) and wants more
    private bool _readPending;
    private bool _waiting; // the zero-byte receive is in flight
    private bool _drained; // the last receive took everything the socket had
    private bool _cancelNext; // CancelPendingRead with no read pending: the next read returns canceled
    private bool _ended; // the peer finished sending (or the connection was shut down)
    private bool _completed; // the application is done reading
    private Exception? _error;

    /// <param name="connection">The connection whose socket this reads.</param>
    /// <param name="maxBufferBytes">The most unconsumed input held; more fails the connection.</param>
    /// <param name="poller">Reports input; null (or a refused registration) waits with a zero-byte receive instead.</param>
    public SocketPipeReader(DirectSocketConnection connection, int maxBufferBytes, ReadinessPoller? poller = null)
    {
        _connection = connection;
        _maxBufferBytes = Math.Max(maxBufferBytes, MinimumBufferBytes);
        if (poller is not null && poller.TryRegister(connection.Handle, this, out _registration))
        {
            _poller = poller;
            _registered = true;
        }
    }

    private const int Idle = 0; // no read waits and no report is pending
    private const int Waiting = 1; // a read waits for the next report
    private const int Signaled = 2; // a report came while no read waited

    // The reader's own object: one lock object fewer per connection (the class is internal and sealed, so no
    // caller outside can take this lock).
    private object Sync => this;

    public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default)
    {
        lock (Sync)
        {
            ThrowIfCompleted();
            if (TryTakeResult(out ReadResult result))
            {
                return new ValueTask<ReadResult>(result);
            }
            cancellationToken.ThrowIfCancellationRequested();
            // Nothing to hand out: read the socket now, on this thread, unless the last receive emptied it. Then
            // a receive now would almost always find nothing (at 20,000 msgs/s two receives in three did, strace):
            // the zero-byte wait below completes at once if bytes came meanwhile.
            if (!_drained)
            {
                ReceiveAvailable();
                if (TryTakeResult(out result))
                {
                    return new ValueTask<ReadResult>(result);
                }
            }
            _readPending = true;
            WaitReadable();
            if (!_waiting)
            {
                // The wait ended at once and something came of it (bytes, the end or an error).
                _readPending = false;
                if (TryTakeResult(out result))
                {
                    return new ValueTask<ReadResult>(result);
                }
                throw new InvalidOperationException("the socket signalled readable but nothing came of it");
            }
            _pending.Reset();
            if (cancellationToken.CanBeCanceled)
            {
                _pendingCancellation = cancellationToken.UnsafeRegister(static (state, token) => ((SocketPipeReader)state!).CancelFromToken(token), this);
            }
            return new ValueTask<ReadResult>(this, _pending.Version);
        }
    }

    public override bool TryRead(out ReadResult result)
    {
        lock (Sync)
        {
            ThrowIfCompleted();
            return TryTakeResult(out result);
        }
    }

    public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

    public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
    {
        lock (Sync)
        {
            ThrowIfCompleted();
            if (_buffer is null)
            {
                return; // an empty result was advanced
            }
            if (!ReferenceEquals(consumed.GetObject(), _buffer) && consumed.GetObject() is not null)
            {
                throw new InvalidOperationException("the position is not from this reader's last result");
            }
            int consumedAt = consumed.GetObject() is null ? _start : consumed.GetInteger();
            int examinedAt = examined.GetObject() is null ? consumedAt : examined.GetInteger();
            if (consumedAt < _start || consumedAt > _end || examinedAt < consumedAt || examinedAt > _end)
            {
                throw new InvalidOperationException("the position is outside the unconsumed bytes");
            }
            _start = consumedAt;
            _examinedAll = examinedAt == _end && _start < _end;
            ReleaseIfEmpty();
        }
    }

    public override void CancelPendingRead()
    {
        ReadResult result;
        lock (Sync)
        {
            if (!_readPending)
            {
                _cancelNext = true;
                return;
            }
            _readPending = false;
            result = new ReadResult(Unconsumed(), isCanceled: true, isCompleted: false);
        }
        // Called by whoever cancels (the timeout sweeper's thread): the reader's loop must not run there.
        Finish(result, error: null, onThreadPool: true);
    }

    public override void Complete(Exception? exception = null)
    {
        bool unregister;
        bool pending;
        lock (Sync)
        {
            _completed = true;
            ReleaseBuffer();
            unregister = _registered;
            _registered = false;
            pending = _readPending;
            _readPending = false; // a read still waiting (a caller that gave up on it) ends rather than hangs
        }
        if (unregister)
        {
            _poller!.Unregister(_connection.Handle, _registration); // before the connection closes the socket
        }
        if (!pending)
        {
            return;
        }
        Finish(new ReadResult(ReadOnlySequence<byte>.Empty, isCanceled: false, isCompleted: true), error: null, onThreadPool: true);
    }

    /// <summary>The connection was shut down: a waiting read ends as the end of input.</summary>
    public void OnShutdown()
    {
        lock (Sync)
        {
            _ended = true;
        }
        CompleteWaitingRead(onThreadPool: true); // whoever aborts must not run the reader's loop
    }

    ReadResult IValueTaskSource<ReadResult>.GetResult(short token) => _pending.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ReadResult>.GetStatus(short token) => _pending.GetStatus(token);

    void IValueTaskSource<ReadResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _pending.OnCompleted(continuation, state, token, flags);

    /// <summary>Whether a read would return now (<see cref="TryTakeResult"/> would succeed).</summary>
    private bool HasResult() => _cancelNext || _error is not null || _ended || (_start < _end && !_examinedAll);

    /// <summary>What a read returns now, if anything: new bytes, the end, an error, or a requested cancellation.</summary>
    private bool TryTakeResult(out ReadResult result)
    {
        if (_cancelNext)
        {
            _cancelNext = false;
            result = new ReadResult(Unconsumed(), isCanceled: true, isCompleted: false);
            return true;
        }
        if (_error is not null)
        {
            throw _error;
        }
        if (_start < _end && !_examinedAll)
        {
            result = new ReadResult(Unconsumed(), isCanceled: false, isCompleted: _ended);
            return true;
        }
        if (_ended)
        {
            _examinedAll = false;
            result = new ReadResult(Unconsumed(), isCanceled: false, isCompleted: true);
            return true;
        }
        result = default;
        return false;
    }

    /// <summary>Receives what the socket holds without waiting (one non-blocking receive); sets the end or the error it meets.</summary>
    private void ReceiveAvailable()
    {
        if (_ended || _error is not null || _completed || _waiting)
        {
            return;
        }
        if (_buffer is null)
        {
            // Rented for this receive and returned at once if it brings nothing (ReleaseIfEmpty): cheaper than asking
            // the socket first (FIONREAD, a system call of its own), and an idle connection still holds no buffer.
            _buffer = ArrayPool<byte>.Shared.Rent(MinimumBufferBytes);
            _start = _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            if (!MakeRoom())
            {
                return;
            }
        }
        int space = _buffer.Length - _end;
        int received = _connection.Receive(_buffer.AsSpan(_end), out SocketError error);
        switch (error)
        {
            case SocketError.Success when received > 0:
                _end += received;
                _examinedAll = false;
                _drained = received < space;
                break;
            case SocketError.Success:
                _ended = true; // the peer closed its side
                SignalPeerGone();
                break;
            case SocketError.WouldBlock:
                _drained = true;
                break;
            default:
                Fail(error);
                break;
        }
        ReleaseIfEmpty();
    }

    /// <summary>
    /// Room after <see cref="_end"/>: unconsumed bytes moved to the front, or a buffer twice as large up to
    /// <see cref="_maxBufferBytes"/>; past that the connection fails (nothing the WebSocket layer or Kestrel's HTTP
    /// parser accepts needs it).
    /// </summary>
    private bool MakeRoom()
    {
        byte[] buffer = _buffer!;
        int length = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(buffer, _start, buffer, 0, length);
        }
        else if (buffer.Length >= _maxBufferBytes)
        {
            _error = new ConnectionAbortedException($"more than {_maxBufferBytes} bytes of input unconsumed");
            return false;
        }
        else
        {
            byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length * 2L, _maxBufferBytes));
            Buffer.BlockCopy(buffer, 0, larger, 0, length);
            ArrayPool<byte>.Shared.Return(buffer);
            _buffer = larger;
        }
        _start = 0;
        _end = length;
        return true;
    }

    private void Fail(SocketError error)
    {
        if (error is SocketError.OperationAborted or SocketError.Shutdown or SocketError.Interrupted)
        {
            _ended = true; // closed or shut down by us: the end of input
            return;
        }
        _error = SocketErrors.ToException(error);
        SignalPeerGone();
    }

    /// <summary>
    /// The peer closed or reset the connection: <see cref="ConnectionContext.ConnectionClosed"/> fires, as with
    /// Kestrel's transport (Kestrel's HTTP layer aborts a request in progress on it). Its callbacks run on the pool.
    /// </summary>
    private void SignalPeerGone() => _connection.OnPeerGone();

    /// <summary>Starts waiting for input unless a wait is on; handles it here if input is there already.</summary>
    private void WaitReadable()
    {
        while (!_waiting && _readPending)
        {
            _waiting = true;
            if (StartWait(out SocketError error))
            {
                return; // ends later, in OnReadable
            }
            _waiting = false;
            if (error != SocketError.Success)
            {
                Fail(error);
            }
            ReceiveAvailable();
            if (HasResult())
            {
                return; // the caller (still holding the lock) takes the result
            }
        }
    }

    /// <summary>True when the wait is on (<see cref="OnReadable"/> follows); false when there may be input now.</summary>
    private bool StartWait(out SocketError error)
    {
        error = SocketError.Success;
        if (!_registered)
        {
            _readable ??= new ReadableSignal(this);
            if (_readable.Start(_connection.Socket))
            {
                return true;
            }
            error = _readable.SocketError;
            return false;
        }
        if (Interlocked.CompareExchange(ref _readiness, Waiting, Idle) == Idle)
        {
            return true;
        }
        // Signaled: input came since the last receive. Only a wait leaves this state, so a plain write consumes it.
        Volatile.Write(ref _readiness, Idle);
        return false;
    }

    /// <summary>
    /// From now on a read that the poller completes continues on the poller's thread when few connections' input
    /// came at once (<see cref="IReadinessTarget.OnReady"/>); before, always on the pool. Called by the WebSocket
    /// layer once upgraded. No effect without a poller.
    /// </summary>
    public void ContinueOnPoller()
    {
        lock (Sync)
        {
            if (_registered)
            {
                _poller!.AllowHandlingHere(_registration);
            }
        }
    }

    void IReadinessTarget.OnReady(bool mayHandleHere)
    {
        while (true)
        {
            switch (Volatile.Read(ref _readiness))
            {
                case Waiting when Interlocked.CompareExchange(ref _readiness, Idle, Waiting) == Waiting:
                    // The poller's thread receives. The reader's loop continues on the pool, as a socket completion
                    // would, so that one slow loop cannot hold up other connections' input; or here, when little
                    // other input is waiting and the application asked for it (a context switch less).
                    OnReadable(SocketError.Success, continueInline: mayHandleHere);
                    return;
                case Idle when Interlocked.CompareExchange(ref _readiness, Signaled, Idle) == Idle:
                    return; // kept for the next wait
                case Signaled:
                    return;
            }
        }
    }

    void IReadinessTarget.OnReadyFailed(Exception error)
    {
        lock (Sync)
        {
            _waiting = false;
            _error ??= error;
        }
        CompleteWaitingRead(onThreadPool: true);
    }

    private void OnReadable(SocketError error, bool continueInline)
    {
        lock (Sync)
        {
            _waiting = false;
            if (error != SocketError.Success)
            {
                Fail(error);
            }
            if (_completed)
            {
                ReleaseBuffer();
                return;
            }
            if (!_readPending)
            {
                // Canceled meanwhile: the next read must receive before it waits. The poller reports an arrival
                // once, and this was that report; a read trusting "drained" would wait for another forever.
                _drained = false;
                return;
            }
            ReceiveAvailable();
            if (!HasResult())
            {
                WaitReadable(); // woke without bytes (a read in between took them): wait again
                if (!HasResult())
                {
                    return;
                }
            }
        }
        CompleteWaitingRead(onThreadPool: !continueInline);
    }

    /// <summary>Completes a waiting read with what there is now (outside the lock: the continuation runs inline).</summary>
    private void CompleteWaitingRead(bool onThreadPool)
    {
        ReadResult result = default;
        Exception? error = null;
        lock (Sync)
        {
            if (!_readPending)
            {
                return;
            }
            _readPending = false;
            try
            {
                if (!TryTakeResult(out result))
                {
                    _readPending = true; // nothing new after all
                    return;
                }
            }
            catch (Exception ex)
            {
                error = ex;
            }
        }
        Finish(result, error, onThreadPool);
    }

    private void CancelFromToken(CancellationToken token)
    {
        lock (Sync)
        {
            if (!_readPending)
            {
                return;
            }
            _readPending = false;
        }
        Finish(default, new OperationCanceledException(token), onThreadPool: true);
    }

    private void Finish(ReadResult result, Exception? error, bool onThreadPool)
    {
        _pendingCancellation.Dispose();
        _pendingCancellation = default;
        _pending.RunContinuationsAsynchronously = onThreadPool;
        if (error is not null)
        {
            _pending.SetException(error);
        }
        else
        {
            _pending.SetResult(result);
        }
    }

    private ReadOnlySequence<byte> Unconsumed() =>
        _buffer is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_buffer, _start, _end - _start);

    /// <summary>Returns the buffer once nothing in it is unconsumed and no receive targets it.</summary>
    private void ReleaseIfEmpty()
    {
        if (_buffer is not null && _start == _end)
        {
            ReleaseBuffer();
        }
    }

    private void ReleaseBuffer()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
        _start = _end = 0;
        _examinedAll = false;
    }

    private void ThrowIfCompleted()
    {
        if (_completed)
        {
            throw new InvalidOperationException("the reader was completed");
        }
    }

    /// <summary>The zero-byte receive that signals bytes to read (or the end, or an error).</summary>
    private sealed class ReadableSignal(SocketPipeReader reader) : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        public bool Start(Socket socket)
        {
            SetBuffer(Memory<byte>.Empty);
            return socket.ReceiveAsync(this);
        }

        // The socket's completion runs on a pool thread already: the reader continues right there.
        protected override void OnCompleted(SocketAsyncEventArgs e) => reader.OnReadable(SocketError, continueInline: true);
    }
}
