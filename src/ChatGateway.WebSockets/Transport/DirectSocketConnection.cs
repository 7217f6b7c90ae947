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
/// connection holds the socket, a slot in the <see cref="ReadinessPoller"/> and this object: no buffer and no
/// pending operation.
/// </para>
/// </summary>
internal sealed class DirectSocketConnection : ConnectionContext, IDuplexPipe,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature,
    IConnectionEndPointFeature, IMemoryPoolFeature
{
    internal static readonly Type[] ImplementedFeatures =
    [
        typeof(IConnectionIdFeature), typeof(IConnectionTransportFeature), typeof(IConnectionItemsFeature),
        typeof(IConnectionLifetimeFeature), typeof(IConnectionEndPointFeature), typeof(IMemoryPoolFeature),
    ];

    private static long s_lastId;

    private readonly Socket _socket;
    private readonly long _number;
    private readonly CancellationTokenSource _closed = new();
    private readonly ConnectionFeatures _features;
    private readonly SocketPipeReader _reader;
    private readonly SocketPipeWriter _writer;
    private IDuplexPipe? _transport;
    private string? _id;
    private IDictionary<object, object?>? _items;
    private EndPoint? _localEndPoint;
    private EndPoint? _remoteEndPoint;
    private int _aborted;

    /// <param name="socket">An accepted socket; the connection owns it from here.</param>
    /// <param name="maxReadBufferBytes">The most unconsumed input a connection holds (<see cref="SocketPipeReader"/>).</param>
    public DirectSocketConnection(Socket socket, int maxReadBufferBytes)
    {
        NonBlockingSocket.Prepare(socket); // receives and sends return WouldBlock instead of waiting
        _socket = socket;
        _number = Interlocked.Increment(ref s_lastId);
        _features = new ConnectionFeatures(this);
        _reader = new SocketPipeReader(socket, maxReadBufferBytes, _closed, ReadinessPoller.Shared);
        _writer = new SocketPipeWriter(socket);
    }

    internal static bool Implements(Type feature) => Array.IndexOf(ImplementedFeatures, feature) >= 0;

    public override string ConnectionId
    {
        get => _id ??= "D" + _number.ToString("x11");
        set => _id = value;
    }

    public override IFeatureCollection Features => _features;

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

    public override EndPoint? LocalEndPoint
    {
        get => _localEndPoint ??= _socket.LocalEndPoint;
        set => _localEndPoint = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _remoteEndPoint ??= _socket.RemoteEndPoint;
        set => _remoteEndPoint = value;
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
            _socket.Shutdown(SocketShutdown.Both);
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
        _socket.Dispose();
        return ValueTask.CompletedTask;
        // The token source has no timer, so it needs no disposal; it stays valid for whoever still holds the token.
    }
}
