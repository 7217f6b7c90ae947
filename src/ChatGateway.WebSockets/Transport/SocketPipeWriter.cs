using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// The output of a <see cref="DirectSocketConnection"/>: bytes gather in one pooled buffer and
/// <see cref="FlushAsync"/> sends them with a non-blocking send on the flushing thread. Only what the socket
/// cannot take at once (its send buffer is full: a slow reader) goes out asynchronously, through a
/// <see cref="SocketSender"/> borrowed from a shared pool for that one send.
/// <para>
/// Idle, the writer holds nothing: the buffer is rented at the first write after a flush and returned by the
/// flush. One writer at a time, as for any <see cref="PipeWriter"/>.
/// </para>
/// </summary>
internal sealed class SocketPipeWriter(DirectSocketConnection connection) : PipeWriter
{
    /// <summary>The smallest buffer rented for writing; a flush sends it with one system call when the socket has room.</summary>
    public const int MinimumBufferBytes = 16 * 1024;

    private byte[]? _buffer;
    private int _written;
    private bool _completed;
    private Exception? _failure; // a send failed or was abandoned: the connection cannot take more

    public override bool CanGetUnflushedBytes => true;

    public override long UnflushedBytes => _written;

    public override void Advance(int bytes)
    {
        if ((uint)bytes > (uint)(_buffer?.Length - _written ?? 0))
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), "advanced past the memory handed out");
        }
        _written += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0) => Reserve(sizeHint).AsMemory(_written);

    public override Span<byte> GetSpan(int sizeHint = 0) => Reserve(sizeHint).AsSpan(_written);

    /// <summary>A buffer with at least <paramref name="sizeHint"/> (at least one) free bytes after what is written.</summary>
    private byte[] Reserve(int sizeHint)
    {
        if (_completed)
        {
            throw new InvalidOperationException("the writer was completed");
        }
        int needed = Math.Max(sizeHint, 1);
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(needed, MinimumBufferBytes));
        }
        else if (_buffer.Length - _written < needed)
        {
            // A batch larger than the buffer (rare: frames past 16 KiB or a long drain): grow, keeping what is written.
            byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Max(_written + (long)needed, _buffer.Length * 2L));
            Buffer.BlockCopy(_buffer, 0, larger, 0, _written);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = larger;
        }
        return _buffer;
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_failure is not null)
        {
            return ValueTask.FromException<FlushResult>(_failure);
        }
        if (_written == 0)
        {
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: _completed));
        }
        int sent = 0;
        while (sent < _written)
        {
            int n = connection.Send(_buffer.AsSpan(sent, _written - sent), out SocketError error);
            if (error == SocketError.WouldBlock)
            {
                return SendRestAsync(sent, cancellationToken);
            }
            if (error != SocketError.Success)
            {
                return ValueTask.FromException<FlushResult>(Fail(error));
            }
            sent += n;
        }
        ReleaseBuffer();
        return new ValueTask<FlushResult>(default(FlushResult));
    }

    /// <summary>The part the socket could not take at once: sent asynchronously; the buffer is kept until it is out.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> SendRestAsync(int sent, CancellationToken cancellationToken)
    {
        SocketSender sender = SocketSender.Rent();
        try
        {
            while (sent < _written)
            {
                SocketError error;
                int n;
                try
                {
                    (n, error) = await sender.SendAsync(connection.Socket, _buffer.AsMemory(sent, _written - sent), cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // The send may still be in flight and owns the buffer and the sender: both are left to it, and
                    // the writer refuses everything after (the caller gave up on this connection).
                    _failure = new ConnectionAbortedException("a send was abandoned");
                    _buffer = null;
                    _written = 0;
                    sender = null!;
                    throw;
                }
                if (error != SocketError.Success)
                {
                    throw Fail(error);
                }
                sent += n;
            }
        }
        finally
        {
            sender?.Return();
        }
        ReleaseBuffer();
        return default;
    }

    public override void CancelPendingFlush()
    {
        // Sends are not cancelable without closing the socket; the WebSocket layer aborts the connection instead.
    }

    /// <summary>
    /// No more writes. What was written but not flushed is sent as far as the socket takes it without waiting (as a
    /// <see cref="Pipe"/> hands unflushed bytes to its reader on completion); the connection is ending, so what a
    /// full send buffer refuses is dropped.
    /// </summary>
    public override void Complete(Exception? exception = null)
    {
        if (_completed)
        {
            return;
        }
        _completed = true;
        int sent = 0;
        while (_failure is null && exception is null && sent < _written)
        {
            int n = connection.Send(_buffer.AsSpan(sent, _written - sent), out SocketError error);
            if (error != SocketError.Success || n == 0)
            {
                break;
            }
            sent += n;
        }
        ReleaseBuffer();
    }

    private Exception Fail(SocketError error)
    {
        _failure = SocketErrors.ToException(error);
        ReleaseBuffer();
        return _failure;
    }

    private void ReleaseBuffer()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
        _written = 0;
    }
}
