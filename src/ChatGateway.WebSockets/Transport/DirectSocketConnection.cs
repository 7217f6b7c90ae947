using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// One accepted socket as Kestrel's <see cref="ConnectionContext"/>, its pipes being the socket itself:
/// <see cref="SocketPipeReader"/> receives into the reader's buffer on the thread that reads, and
/// <see cref="SocketPipeWriter"/> sends on the thread that flushes.
/// <para>
/// Why not Kestrel's socket transport: it copies between the socket and two in-memory <see cref="Pipe"/>s, each
/// drained by a loop of its own, so a received frame reaches the application one thread-pool hop after the
/// socket read and a flushed frame reaches the socket one hop after the flush; and each connection keeps both
/// pipes, a receiver and the loops' state (~3.4 KB managed while idle, docs/benchmarks.md). An idle direct
/// connection holds its descriptor (no <see cref="System.Net.Sockets.Socket"/> on Linux: <see cref="NonBlockingSocket"/>),
/// a slot in the <see cref="ReadinessPoller"/> and this object: no buffer and no pending operation.
/// </para>
/// </summary>
internal sealed partial class DirectSocketConnection : ConnectionContext, IDuplexPipe,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature,
    IConnectionEndPointFeature, IMemoryPoolFeature
{
    internal static readonly Type[] ImplementedFeatures =
    [
        typeof(IConnectionIdFeature), typeof(IConnectionTransportFeature), typeof(IConnectionItemsFeature),
        typeof(IConnectionLifetimeFeature), typeof(IConnectionEndPointFeature), typeof(IMemoryPoolFeature),
    ];

    private static long s_lastId;

    private readonly SafeSocketHandle _handle;
    private Socket? _socket; // the accepted Socket where bare descriptors are not supported; else made on demand
    private readonly long _number;
    private readonly CancellationTokenSource _closed = new();
    private readonly SocketPipeReader _reader;
    private readonly SocketPipeWriter _writer;
    private IDuplexPipe? _transport;
    private string? _id;
    private IDictionary<object, object?>? _items;
    private EndPoint? _localEndPoint;
    private EndPoint? _remoteEndPoint;
    private int _aborted;

    /// <summary>A connection on an accepted descriptor (<see cref="NonBlockingSocket.Supported"/> platforms).</summary>
    /// <param name="handle">An accepted socket's descriptor; the connection owns it from here.</param>
    /// <param name="maxReadBufferBytes">The most unconsumed input a connection holds (<see cref="SocketPipeReader"/>).</param>
    /// <param name="poller">Reports input (null: a zero-byte receive waits for it instead).</param>
    public DirectSocketConnection(SafeSocketHandle handle, int maxReadBufferBytes, ReadinessPoller? poller)
        : this(handle, socket: null, maxReadBufferBytes, poller)
    {
        if (!NonBlockingSocket.Supported)
        {
            throw new PlatformNotSupportedException("a bare descriptor needs the non-blocking calls of NonBlockingSocket");
        }
    }

    /// <summary>A connection on an accepted <see cref="Socket"/>; it owns the socket from here.</summary>
    public DirectSocketConnection(Socket socket, int maxReadBufferBytes, ReadinessPoller? poller)
        : this(socket.SafeHandle, socket, maxReadBufferBytes, poller)
    {
    }

    private DirectSocketConnection(SafeSocketHandle handle, Socket? socket, int maxReadBufferBytes, ReadinessPoller? poller)
    {
        _handle = handle;
        _socket = socket;
        if (socket is not null)
        {
            NonBlockingSocket.Prepare(socket); // receives and sends return WouldBlock instead of waiting
        }
        _number = Interlocked.Increment(ref s_lastId);
        _reader = new SocketPipeReader(this, maxReadBufferBytes, poller);
        _writer = new SocketPipeWriter(this);
    }

    /// <summary>The descriptor, for the readiness poller.</summary>
    internal SafeSocketHandle Handle => _handle;

    /// <summary>
    /// The connection as a <see cref="Socket"/>, for what only a Socket does: a send that has to wait for room (a slow
    /// reader), a zero-byte receive where there is no poller, the endpoints. Made at the first need and kept until the
    /// connection is disposed (its finalizer would close the descriptor).
    /// </summary>
    internal Socket Socket
    {
        get
        {
            if (Volatile.Read(ref _socket) is { } socket)
            {
                return socket;
            }
            lock (_handle)
            {
                return _socket ??= new Socket(_handle);
            }
        }
    }

    /// <summary>A receive found the peer gone: <see cref="ConnectionClosed"/> fires (its callbacks run on the pool).</summary>
    internal void OnPeerGone()
    {
        if (!_closed.IsCancellationRequested)
        {
            _ = _closed.CancelAsync();
        }
    }

    /// <summary>Whether a <see cref="Socket"/> was made (or accepted) for this connection: the cost an idle one avoids.</summary>
    internal bool HasSocket => Volatile.Read(ref _socket) is not null;

    /// <summary>Bytes received without waiting (0: the peer finished sending), or the error (<see cref="SocketError.WouldBlock"/>: nothing there).</summary>
    internal int Receive(Span<byte> buffer, out SocketError error) => NonBlockingSocket.Supported
        ? NonBlockingSocket.Receive(_handle, buffer, out error)
        : _socket!.Receive(buffer, SocketFlags.None, out error);

    /// <summary>Bytes sent without waiting (possibly fewer than given), or the error (<see cref="SocketError.WouldBlock"/>: the send buffer is full).</summary>
    internal int Send(ReadOnlySpan<byte> buffer, out SocketError error) => NonBlockingSocket.Supported
        ? NonBlockingSocket.Send(_handle, buffer, out error)
        : _socket!.Send(buffer, SocketFlags.None, out error);

    internal static bool Implements(Type feature) => Array.IndexOf(ImplementedFeatures, feature) >= 0;

    public override string ConnectionId
    {
        get => _id ??= "D" + _number.ToString("x11");
        set => _id = value;
    }

    public override IFeatureCollection Features => this; // DirectSocketConnection.Features.cs

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new Dictionary<object, object?>();
        set => _items = value;
    }

    /// <summary>The socket's own pipes (this object), unless a middleware put other pipes in front of them.</summary>
    public override IDuplexPipe Transport
    {
        get => _transport ?? this;
        set => _transport = value;
    }

    PipeReader IDuplexPipe.Input => _reader;

    PipeWriter IDuplexPipe.Output => _writer;

    public override CancellationToken ConnectionClosed
    {
        get => _closed.Token;
        set => throw new NotSupportedException("the transport signals its own closing");
    }

    /// <summary>Asked of the socket at the first use (null once the connection is closed).</summary>
    public override EndPoint? LocalEndPoint
    {
        get => _localEndPoint ??= EndPointOf(static socket => socket.LocalEndPoint);
        set => _localEndPoint = value;
    }

    /// <summary>Asked of the socket at the first use (null once the connection is closed or reset).</summary>
    public override EndPoint? RemoteEndPoint
    {
        get => _remoteEndPoint ??= EndPointOf(static socket => socket.RemoteEndPoint);
        set => _remoteEndPoint = value;
    }

    private EndPoint? EndPointOf(Func<Socket, EndPoint?> read)
    {
        try
        {
            return read(Socket);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return null;
        }
    }

    public MemoryPool<byte> MemoryPool => MemoryPool<byte>.Shared;

    /// <summary>
    /// Shuts the socket down both ways: a pending read ends as the end of input and a flush fails with an
    /// <see cref="IOException"/>, so the application's loops finish on their own. The socket is closed in
    /// <see cref="DisposeAsync"/>, once Kestrel is done with the connection.
    /// </summary>
    public override void Abort(ConnectionAbortedException abortReason)
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }
        try
        {
            if (NonBlockingSocket.Supported)
            {
                NonBlockingSocket.Shutdown(_handle); // an error (ENOTCONN: reset already) leaves nothing to shut
            }
            else
            {
                _socket!.Shutdown(SocketShutdown.Both);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already reset by the peer or closed: nothing left to shut.
        }
        _reader.OnShutdown();
        // Callbacks registered on ConnectionClosed run on the pool, not on the aborting thread (a timeout sweeper,
        // a session's loop), and whatever they throw cannot escape from Abort.
        _ = _closed.CancelAsync();
    }

    public override ValueTask DisposeAsync()
    {
        Abort(new ConnectionAbortedException("the connection was disposed"));
        // Kestrel disposes a connection after its middleware returns: the pipes are no longer used, and completing
        // them returns their buffers to the pool.
        _reader.Complete();
        _writer.Complete();
        Volatile.Read(ref _socket)?.Dispose(); // a socket made from the descriptor closes it
        _handle.Dispose();
        return ValueTask.CompletedTask;
        // The token source has no timer, so it needs no disposal; it stays valid for whoever still holds the token.
    }
}
