using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// One asynchronous send, borrowed from a pool shared by every connection for as long as the send takes. A
/// <see cref="SocketPipeWriter"/> needs one only when a socket's send buffer is full (a client reading slowly), so
/// connections do not each keep a ~300-byte <see cref="SocketAsyncEventArgs"/> for it.
/// <para>
/// Bound: the pool keeps at most <see cref="PoolLimit"/> idle senders; one returned past that is disposed. A send
/// abandoned through its cancellation token keeps its sender until the socket finishes it (or fails it when the
/// connection closes), then the sender goes back to the pool.
/// </para>
/// </summary>
internal sealed class SocketSender : SocketAsyncEventArgs, IValueTaskSource<(int Sent, SocketError Error)>
{
    public const int PoolLimit = 1024;

    private static readonly ConcurrentQueue<SocketSender> s_pool = new();
    private static int s_pooled;

    // Continuations run on the pool, not on the socket's completion thread: this is the slow path (a client not
    // reading), and an abandoned send's continuation must not run inside the cancellation callback.
    private ManualResetValueTaskSourceCore<(int, SocketError)> _completion = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _cancellation;
    private int _state; // Idle, Sending, Abandoned

    private const int Idle = 0;
    private const int Sending = 1;
    private const int Abandoned = 2;

    private SocketSender() : base(unsafeSuppressExecutionContextFlow: true)
    {
    }

    public static SocketSender Rent()
    {
        if (s_pool.TryDequeue(out SocketSender? sender))
        {
            Interlocked.Decrement(ref s_pooled);
            return sender;
        }
        return new SocketSender();
    }

    /// <summary>Back to the pool (by the writer after an awaited send; by the sender itself after an abandoned one).</summary>
    public void Return()
    {
        SetBuffer(Memory<byte>.Empty); // let go of the connection's buffer
        if (Interlocked.Increment(ref s_pooled) <= PoolLimit)
        {
            s_pool.Enqueue(this);
            return;
        }
        Interlocked.Decrement(ref s_pooled);
        Dispose();
    }

    /// <summary>Sends <paramref name="bytes"/> (possibly partly: the count is returned) or reports the socket's error.</summary>
    public ValueTask<(int Sent, SocketError Error)> SendAsync(Socket socket, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        _completion.Reset();
        _state = Sending;
        SetBuffer(System.Runtime.InteropServices.MemoryMarshal.AsMemory(bytes));
        if (cancellationToken.CanBeCanceled)
        {
            // Registered before the send starts, so a completion never races the registration.
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((SocketSender)state!).Abandon(token), this);
        }
        if (!socket.SendAsync(this))
        {
            _cancellation.Dispose();
            _cancellation = default;
            _state = Idle;
            return new ValueTask<(int, SocketError)>((BytesTransferred, SocketError));
        }
        return new ValueTask<(int, SocketError)>(this, _completion.Version);
    }

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        int previous = Interlocked.Exchange(ref _state, Idle);
        _cancellation.Dispose();
        _cancellation = default;
        if (previous == Abandoned)
        {
            Return(); // nobody waits for this send any more
            return;
        }
        _completion.SetResult((BytesTransferred, SocketError));
    }

    private void Abandon(CancellationToken token)
    {
        if (Interlocked.CompareExchange(ref _state, Abandoned, Sending) == Sending)
        {
            _completion.SetException(new OperationCanceledException(token));
        }
    }

    (int Sent, SocketError Error) IValueTaskSource<(int Sent, SocketError Error)>.GetResult(short token) => _completion.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<(int Sent, SocketError Error)>.GetStatus(short token) => _completion.GetStatus(token);

    void IValueTaskSource<(int Sent, SocketError Error)>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);
}
