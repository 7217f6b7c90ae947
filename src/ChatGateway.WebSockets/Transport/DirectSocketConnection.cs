using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace ChatGateway.WebSockets.Transport;

/// <summary>
/// One accepted socket as Kestrel's <see cref="ConnectionContext"/>, its pipes reading and writing the socket
/// directly: <see cref="PipeReader.Create(Stream, StreamPipeReaderOptions)"/> and
/// <see cref="PipeWriter.Create(Stream, StreamPipeWriterOptions)"/> over a <see cref="NetworkStream"/>.
/// <para>
/// Why not Kestrel's socket transport: it copies between the socket and two in-memory <see cref="Pipe"/>s, each
/// drained by a loop of its own, so a received frame reaches the application one thread-pool hop after the
/// socket read, and a flushed frame reaches the socket one hop after the flush. Here the application's
/// <c>ReadAsync</c> is the socket read and its <c>FlushAsync</c> the socket send (usually completing at once),
/// and an idle connection holds ~1.7 KB less (docs/benchmarks.md).
/// </para>
/// <para>
/// Idle, a connection holds no buffer: reads wait with a zero-byte receive and rent only once data is there;
/// writes rent for the length of a flush. Buffers come from <see cref="ArrayPool{T}.Shared"/>. Bound: the
/// reader holds what the application has not consumed, which the WebSocket layer caps at one whole frame
/// (<c>WebSockets:MaxFrameBytes</c>) and Kestrel's HTTP parser at its header limits.
/// </para>
/// </summary>
internal sealed class DirectSocketConnection : ConnectionContext,
    IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature, IConnectionLifetimeFeature,
    IConnectionEndPointFeature, IMemoryPoolFeature
{
    /// <summary>A write gathers into buffers of this size; a flush sends each with one system call.</summary>
    public const int WriteBufferBytes = 16 * 1024;

    /// <summary>The smallest buffer a read rents (more when a frame needs it).</summary>
    public const int ReadBufferBytes = 4 * 1024;

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
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private string? _id;
    private IDictionary<object, object?>? _items;
    private EndPoint? _localEndPoint;
    private EndPoint? _remoteEndPoint;
    private int _aborted;

    public DirectSocketConnection(Socket socket)
    {
        _socket = socket;
        _number = Interlocked.Increment(ref s_lastId);
        _features = new ConnectionFeatures(this);
        var stream = new NetworkStream(socket, ownsSocket: true);
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(pool: null, bufferSize: ReadBufferBytes, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true));
        _writer = PipeWriter.Create(stream, new StreamPipeWriterOptions(pool: null, minimumBufferSize: WriteBufferBytes, leaveOpen: false));
        Transport = new DuplexPipe(_reader, _writer);
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

    public override IDuplexPipe Transport { get; set; }

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
    /// Shuts the socket down both ways: a pending read ends as the end of input and a pending flush fails with an
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
        SignalClosed();
    }

    public override async ValueTask DisposeAsync()
    {
        Abort(new ConnectionAbortedException("the connection was disposed"));
        // The application is done with the pipes (Kestrel disposes a connection after its middleware returns):
        // completing them returns their buffers to the pool; the writer closes the stream and the socket.
        await _reader.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _writer.CompleteAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // Unsent bytes of an aborted connection: there is no one left to send them to.
        }
        _socket.Dispose();
    }

    // The token source has no timer, so it needs no disposal; it stays valid for whoever still holds the token.
    private void SignalClosed() => _closed.Cancel();

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
