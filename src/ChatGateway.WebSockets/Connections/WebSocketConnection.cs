using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Timeouts;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ChatGateway.WebSockets.Connections;

/// <summary>
/// One open WebSocket over a Kestrel connection's pipes. Its read loop parses frames in place, answers
/// pings, runs the close handshake and hands whole messages to the <see cref="IWebSocketSession"/>.
/// Writes from any thread go through one gate (<see cref="WriteGate"/>), so frames never interleave; each send or batch is one flush.
/// <para>
/// Idle cost: this object, one async state machine parked on the input pipe, and a sweeper slot; with
/// Kestrel's zero-byte reads no input buffer is held while nothing arrives.
/// </para>
/// </summary>
public sealed class WebSocketConnection : ISweepable
{
    private enum Timeout { None, Idle, Close }

    /// <summary><see cref="OnInputAsync"/>'s "the connection stays open": not a close code (those start at 1000).</summary>
    private const ushort KeepReading = 0;

    // Every field here is paid once per open connection: what all connections share (options, sweeper, logger) is
    // reached through _settings, and the pipes through the context.
    private readonly ConnectionContext _context;
    private IWebSocketSession _session = null!; // set by Accept, before the read loop starts
    private readonly ConnectionSettings _settings;
    private WriteGate _writeGate;          // one writer at a time; its waiters are guarded by a monitor on this object

    private FrameReader _reader;
    private byte[]? _fragments;            // reassembly of a fragmented message, pooled, only while one is open
    private int _fragmentsLength;
    private WebSocketOpcode _fragmentsOpcode;

    private long _lastInbound;             // timestamp of the last read that brought bytes
    private long _lastPing;
    private long _closeDeadline;           // non-zero once this side sent a close frame
    private volatile Timeout _timeout;
    private bool _closeSent;               // guarded by _writeGate
    private bool _outputDone;              // guarded by _writeGate
    private ushort _sentCloseCode;

    /// <summary>A connection whose handshake is still to come (<see cref="RunAsync"/>).</summary>
    internal WebSocketConnection(ConnectionContext context, ConnectionSettings settings)
    {
        _context = context;
        _settings = settings;
        _reader = new FrameReader(settings.Options.MaxMessageSize);
    }

    /// <summary>The upgrade was accepted for <paramref name="session"/>: called by the handshake, before the read loop.</summary>
    internal void Accept(IWebSocketSession session, string? subprotocol)
    {
        _session = session;
        Subprotocol = subprotocol;
    }

    private PipeReader Input => _context.Transport.Input;
    private PipeWriter Output => _context.Transport.Output;

    public string ConnectionId => _context.ConnectionId;
    public EndPoint? RemoteEndPoint => _context.RemoteEndPoint;
    public string? Subprotocol { get; private set; }

    /// <summary>
    /// True while the calling code runs on the direct transport's poller, the one thread that learns of every
    /// connection's input (<see cref="WebSocketServerOptions.HandleInputOnPoller"/>): nobody else's input is read
    /// until it returns, so work that may block (a read from disk) belongs on the thread pool.
    /// </summary>
    public static bool IsOnPollerThread => Transport.ReadinessPoller.IsPollerThread;

    /// <summary>Timestamp (<see cref="TimeProvider.GetTimestamp"/>) of the last inbound bytes: any frame, pong included.</summary>
    public long LastInboundTimestamp => Volatile.Read(ref _lastInbound);

    /// <summary>Sends one unfragmented message or control frame. False once the connection is closing or gone.</summary>
    public ValueTask<bool> SendAsync(WebSocketOpcode type, ReadOnlyMemory<byte> payload) =>
        SendAsync(type, new ReadOnlySequence<byte>(payload));

    /// <inheritdoc cref="SendAsync(WebSocketOpcode, ReadOnlyMemory{byte})"/>
    public ValueTask<bool> SendAsync(WebSocketOpcode type, ReadOnlySequence<byte> payload)
    {
        if (type is WebSocketOpcode.Close or WebSocketOpcode.Continuation || !type.IsDefined())
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "send Text, Binary, Ping or Pong; close with CloseAsync");
        }
        if (type.IsControl() && payload.Length > 125)
        {
            throw new ArgumentOutOfRangeException(nameof(payload), payload.Length, "control frames carry at most 125 bytes");
        }
        return SendAsync(new SingleFrame(type, payload));
    }

    /// <summary>
    /// Writes a batch of pre-framed bytes and flushes once. Awaits the flush, so a client that does not
    /// read pushes back on the caller once the transport's output buffer is full.
    /// </summary>
    public async ValueTask<bool> SendAsync<TBatch>(TBatch batch) where TBatch : IFrameBatch
    {
        await EnterWriteAsync().ConfigureAwait(false);
        try
        {
            if (_closeSent || _outputDone)
            {
                return false;
            }
            batch.WriteTo(Output);
            FlushResult result = await Output.FlushAsync().ConfigureAwait(false);
            return !result.IsCompleted && !result.IsCanceled;
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
        {
            return false; // the peer is gone; the read loop will notice and close
        }
        finally
        {
            _writeGate.Exit(this);
        }
    }

    /// <summary>
    /// Starts the close handshake: sends a close frame, then waits (in the read loop) up to
    /// CloseTimeout for the client's close before dropping TCP. Messages that arrive meanwhile are discarded.
    /// </summary>
    public ValueTask CloseAsync(ushort code, string reason)
    {
        if (!WebSocketCloseCode.IsValidOnWire(code))
        {
            throw new ArgumentOutOfRangeException(nameof(code), code, "not a code that may be sent in a close frame");
        }
        return SendCloseAsync(code, reason);
    }

    /// <summary>Drops the TCP connection at once, without a close handshake.</summary>
    public void Abort(string reason = "aborted by the server") => _context.Abort(new ConnectionAbortedException(reason));

    void ISweepable.OnSweep(long now)
    {
        long closeDeadline = Volatile.Read(ref _closeDeadline);
        if (closeDeadline != 0)
        {
            if (now >= closeDeadline)
            {
                _timeout = Timeout.Close;
                Input.CancelPendingRead();
            }
            return;
        }
        long silent = now - Volatile.Read(ref _lastInbound);
        if (silent >= _settings.IdleTicks)
        {
            _timeout = Timeout.Idle;
            Input.CancelPendingRead();
        }
        else if (_settings.KeepAliveTicks != 0 && silent >= _settings.KeepAliveTicks && now - _lastPing >= _settings.KeepAliveTicks)
        {
            _lastPing = now;
            _ = SendAsync(WebSocketOpcode.Ping, ReadOnlyMemory<byte>.Empty); // never throws; a failed ping is the idle timeout's job
        }
    }

    /// <summary>
    /// The connection's life: the handshake (<paramref name="middleware"/>; a request that is not for us goes to
    /// <paramref name="next"/> from there), then, when upgraded, the read loop until the connection ends.
    /// </summary>
    internal async Task RunAsync(WebSocketUpgradeMiddleware middleware, ConnectionDelegate next)
    {
        if (!await middleware.HandshakeAsync(_context, next, this).ConfigureAwait(false))
        {
            return;
        }
        ushort closeCode = WebSocketCloseCode.AbnormalClosure;
        bool failed = false;
        _lastInbound = _settings.Time.GetTimestamp();
        int slot = _settings.Sweeper.Register(this);
        try
        {
            _session.OnOpened(this);
            if (_settings.Options.HandleInputOnPoller && Input is Transport.SocketPipeReader reader)
            {
                reader.ContinueOnPoller(); // only now: the handshake and plain HTTP requests stay on the pool
            }
            while (true)
            {
                // This loop is what an idle connection keeps alive, so it holds as little as it can across its
                // awaits (its box is part of every connection's cost): a read's result is handed to OnInputAsync
                // whole, and the frames, buffers and the parser's state live there, only while input is handled.
                ReadResult result = await Input.ReadAsync().ConfigureAwait(false);
                ValueTask<ushort> handling;
                _session.OnInputStarting();
                try
                {
                    handling = OnInputAsync(result); // up to its first wait, on this thread
                }
                finally
                {
                    _session.OnInputHandled();
                }
                ushort outcome = handling.IsCompletedSuccessfully ? handling.Result : await handling.ConfigureAwait(false);
                if (outcome != KeepReading)
                {
                    closeCode = outcome;
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException)
        {
            _settings.Logger.LogDebug("WebSocket {ConnectionId} transport ended: {Message}", ConnectionId, ex.Message);
        }
        catch (Exception ex)
        {
            _settings.Logger.LogError(ex, "WebSocket {ConnectionId} failed in its session", ConnectionId);
            closeCode = WebSocketCloseCode.InternalError;
            failed = true;
        }

        // The ending runs after the try rather than in a finally (the catches above take every exception): an await
        // in a finally or a catch makes the state machine carry the pending exception and the exit path as fields,
        // 24 B more in the box every open connection holds.
        if (failed)
        {
            await SendCloseAsync(closeCode, "internal error").ConfigureAwait(false);
        }
        _settings.Sweeper.Unregister(slot);
        ReleaseFragments();
        await CompleteOutputAsync().ConfigureAwait(false);
        await Input.CompleteAsync().ConfigureAwait(false);
        try
        {
            _session.OnClosed(this, closeCode);
        }
        catch (Exception ex)
        {
            _settings.Logger.LogError(ex, "WebSocket {ConnectionId} session failed while closing", ConnectionId);
        }
    }

    /// <summary>
    /// Handles one read's input: every whole frame in it, in order. Returns <see cref="KeepReading"/>, or the close
    /// code the connection ends with (after a close frame, a protocol error, a timeout or the end of TCP).
    /// </summary>
    /// <remarks>
    /// Pooled: it suspends only when the session or a pong waits (backpressure), and then reuses a box instead of
    /// allocating one per wait.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ushort> OnInputAsync(ReadResult result)
    {
        if (result.IsCanceled && TimedOut())
        {
            return await OnTimeoutAsync().ConfigureAwait(false);
        }
        ReadOnlySequence<byte> buffer = result.Buffer;
        if (!buffer.IsEmpty)
        {
            Volatile.Write(ref _lastInbound, _settings.Time.GetTimestamp());
        }

        ushort closeCode = KeepReading;
        while (closeCode == KeepReading)
        {
            OperationStatus status = _reader.TryRead(ref buffer, out Frame frame, out ushort errorCode);
            if (status == OperationStatus.NeedMoreData)
            {
                break;
            }
            if (status != OperationStatus.Done)
            {
                closeCode = await FailAsync(errorCode).ConfigureAwait(false);
                break;
            }

            switch (frame.Opcode)
            {
                case WebSocketOpcode.Ping:
                    await SendAsync(WebSocketOpcode.Pong, frame.Payload).ConfigureAwait(false);
                    break;
                case WebSocketOpcode.Pong:
                    break; // unsolicited or an answer to our keep-alive: either way only activity
                case WebSocketOpcode.Close:
                    closeCode = await OnCloseFrameAsync(frame.Payload).ConfigureAwait(false);
                    break;
                default:
                    if (!Volatile.Read(ref _closeSent))
                    {
                        await OnDataFrameAsync(frame).ConfigureAwait(false);
                    }
                    break;
            }
        }

        if (closeCode != KeepReading)
        {
            Input.AdvanceTo(buffer.Start);
            return closeCode;
        }
        Input.AdvanceTo(buffer.Start, buffer.End);
        return result.IsCompleted ? WebSocketCloseCode.AbnormalClosure : KeepReading; // TCP ended without a close frame: 1006
    }

    private bool TimedOut() => _timeout switch
    {
        // Data may have arrived between the sweep and now; only a connection still silent is idle.
        Timeout.Idle => _settings.Time.GetTimestamp() - Volatile.Read(ref _lastInbound) >= _settings.IdleTicks,
        Timeout.Close => true,
        _ => false,
    };

    private async ValueTask<ushort> OnTimeoutAsync()
    {
        if (_timeout == Timeout.Close)
        {
            _settings.Logger.LogDebug("WebSocket {ConnectionId}: no close frame from the client in time", ConnectionId);
            return _sentCloseCode;
        }
        _settings.Logger.LogDebug("WebSocket {ConnectionId}: idle timeout", ConnectionId);
        await SendCloseAsync(WebSocketCloseCode.GoingAway, "idle timeout").ConfigureAwait(false);
        return WebSocketCloseCode.GoingAway;
    }

    private async ValueTask OnDataFrameAsync(Frame frame)
    {
        if (frame.Fin && frame.Opcode != WebSocketOpcode.Continuation)
        {
            // One-frame message, the common case: the application reads the unmasked bytes in the pipe.
            await _session.OnMessageAsync(this, frame.Opcode, frame.Payload).ConfigureAwait(false);
            return;
        }
        if (frame.Opcode != WebSocketOpcode.Continuation)
        {
            _fragmentsOpcode = frame.Opcode;
        }
        AppendFragment(frame.Payload);
        if (frame.Fin)
        {
            try
            {
                var message = new ReadOnlySequence<byte>(_fragments!, 0, _fragmentsLength);
                await _session.OnMessageAsync(this, _fragmentsOpcode, message).ConfigureAwait(false);
            }
            finally
            {
                ReleaseFragments();
            }
        }
    }

    private void AppendFragment(in ReadOnlySequence<byte> payload)
    {
        // The reader already bounded the sum of fragments by MaxMessageSize, so this buffer is bounded too.
        int needed = _fragmentsLength + (int)payload.Length;
        if (_fragments is null || _fragments.Length < needed)
        {
            byte[] grown = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Min(2 * (_fragments?.Length ?? 1024), _settings.Options.MaxMessageSize)));
            if (_fragments is not null)
            {
                _fragments.AsSpan(0, _fragmentsLength).CopyTo(grown);
                ArrayPool<byte>.Shared.Return(_fragments);
            }
            _fragments = grown;
        }
        payload.CopyTo(_fragments.AsSpan(_fragmentsLength));
        _fragmentsLength = needed;
    }

    private void ReleaseFragments()
    {
        if (_fragments is not null)
        {
            ArrayPool<byte>.Shared.Return(_fragments);
            _fragments = null;
        }
        _fragmentsLength = 0;
    }

    private async ValueTask<ushort> OnCloseFrameAsync(ReadOnlySequence<byte> payload)
    {
        ushort error = CloseFrame.Validate(payload, out ushort code);
        if (error != 0)
        {
            return await FailAsync(error).ConfigureAwait(false);
        }
        if (Volatile.Read(ref _closeSent))
        {
            return _sentCloseCode; // the client answered our close: handshake complete
        }
        // Echo the client's code (RFC 6455 §5.5.1), then TCP closes when the loop ends.
        await SendCloseAsync(code, reason: null).ConfigureAwait(false);
        return code;
    }

    private async ValueTask<ushort> FailAsync(ushort code)
    {
        _settings.Logger.LogDebug("WebSocket {ConnectionId} failed with close code {Code}", ConnectionId, code);
        await SendCloseAsync(code, reason: null).ConfigureAwait(false);
        return code;
    }

    /// <summary>Sends a close frame (once); 1005 means "no status" and sends an empty close payload.</summary>
    private async ValueTask SendCloseAsync(ushort code, string? reason)
    {
        // A close must not hang behind a flush stuck on a client that stopped reading.
        if (!await EnterWriteAsync(_settings.Options.CloseTimeout).ConfigureAwait(false))
        {
            Abort("close timed out");
            return;
        }
        try
        {
            if (_closeSent || _outputDone)
            {
                return;
            }
            _closeSent = true;
            _sentCloseCode = code;
            Volatile.Write(ref _closeDeadline, _settings.Time.GetTimestamp() + _settings.CloseTicks);
            if (code == WebSocketCloseCode.NoStatusReceived)
            {
                FrameWriter.WriteFrame(Output, WebSocketOpcode.Close, fin: true, ReadOnlySpan<byte>.Empty);
            }
            else
            {
                FrameWriter.WriteClose(Output, code, reason is null ? default : Encoding.UTF8.GetBytes(reason));
            }
            using var timeout = new CancellationTokenSource(_settings.Options.CloseTimeout, _settings.Time);
            await Output.FlushAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
        {
            Abort("close could not be sent");
        }
        finally
        {
            _writeGate.Exit(this);
        }
    }

    private async ValueTask CompleteOutputAsync()
    {
        if (!await EnterWriteAsync(_settings.Options.CloseTimeout).ConfigureAwait(false))
        {
            Abort("output stuck at close");
            await EnterWriteAsync().ConfigureAwait(false);
        }
        try
        {
            _outputDone = true;
            await Output.CompleteAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeGate.Exit(this);
        }
    }

    /// <summary>Takes the write gate; false when <paramref name="timeout"/> passed first (the gate is then not held).</summary>
    private ValueTask<bool> EnterWriteAsync(TimeSpan? timeout = null)
    {
        if (_writeGate.TryEnter())
        {
            return new ValueTask<bool>(true);
        }
        TaskCompletionSource? waiter = _writeGate.EnterOrQueue(this);
        return waiter is null ? new ValueTask<bool>(true) : WaitForWriteAsync(waiter, timeout);
    }

    private async ValueTask<bool> WaitForWriteAsync(TaskCompletionSource waiter, TimeSpan? timeout)
    {
        if (timeout is not { } limit)
        {
            await waiter.Task.ConfigureAwait(false);
            return true;
        }
        try
        {
            await waiter.Task.WaitAsync(limit).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return _writeGate.Abandon(waiter, this); // true: handed over just as the wait ended
        }
    }

    private readonly struct SingleFrame(WebSocketOpcode type, ReadOnlySequence<byte> payload) : IFrameBatch
    {
        public void WriteTo(IBufferWriter<byte> output) => FrameWriter.WriteFrame(output, type, fin: true, payload);
    }
}
