using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Buffers;
using ChatGateway.WebSockets.Tests.Infrastructure;
using ChatGateway.WebSockets.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatGateway.WebSockets.Tests.Transport;

/// <summary>
/// The direct socket transport on its own (a real listening socket on 127.0.0.1 and a real TCP client), and both
/// transports under Kestrel with a real ClientWebSocket and HTTP client.
/// </summary>
public sealed class DirectSocketTransportTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task WebSocket_and_HTTP_requests_are_served_on_either_transport(bool kestrelTransport)
    {
        await using EchoServer server = await EchoServer.StartAsync(kestrelTransport: kestrelTransport);
        Assert.Equal(kestrelTransport ? "SocketTransportFactory" : nameof(DirectSocketTransportFactory), server.TransportName);
        using var cts = new CancellationTokenSource(Timeout);

        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(server.WebSocketUri, cts.Token);
        foreach (int size in new[] { 1, 70_000, 900_000 })
        {
            byte[] sent = new byte[size];
            new Random(size).NextBytes(sent);
            await socket.SendAsync(sent, WebSocketMessageType.Binary, endOfMessage: true, cts.Token);
            using var received = new MemoryStream();
            var buffer = new byte[64 * 1024];
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, cts.Token);
                received.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            Assert.Equal(sent, received.ToArray());
        }
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);

        // Two requests on one kept-alive connection: Kestrel's HTTP/1.1 runs over the same pipes.
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1 });
        Assert.Equal("hello", await http.GetStringAsync(new Uri(server.HttpUri, "hello"), cts.Token));
        Assert.Equal("hello", await http.GetStringAsync(new Uri(server.HttpUri, "hello"), cts.Token));
    }

    [Fact]
    public async Task Bytes_flow_both_ways_and_an_abort_ends_the_peers_stream_and_the_pending_read()
    {
        await using Pair pair = await Pair.ConnectAsync();
        using var cts = new CancellationTokenSource(Timeout);

        await pair.Client.SendAsync("ping"u8.ToArray(), cts.Token);
        ReadResult read = await pair.Server.Transport.Input.ReadAsync(cts.Token);
        Assert.Equal("ping"u8.ToArray(), read.Buffer.ToArray());
        pair.Server.Transport.Input.AdvanceTo(read.Buffer.End);

        await pair.Server.Transport.Output.WriteAsync("pong"u8.ToArray(), cts.Token);
        byte[] answer = new byte[16];
        Assert.Equal(4, await pair.Client.ReceiveAsync(answer, cts.Token));
        Assert.Equal("pong"u8.ToArray(), answer[..4]);

        ValueTask<ReadResult> pending = pair.Server.Transport.Input.ReadAsync(cts.Token);
        Assert.False(pending.IsCompleted);
        Assert.False(pair.Server.ConnectionClosed.IsCancellationRequested);
        pair.Server.Abort(new ConnectionAbortedException("test"));

        Assert.True((await pending).IsCompleted); // the end of input, not an exception
        Assert.True(pair.Server.ConnectionClosed.IsCancellationRequested);
        Assert.Equal(0, await pair.Client.ReceiveAsync(answer, cts.Token)); // the client sees the connection end
    }

    [Fact]
    public async Task CancelPendingRead_ends_the_pending_read_as_canceled_and_the_next_read_gets_the_data()
    {
        await using Pair pair = await Pair.ConnectAsync();
        using var cts = new CancellationTokenSource(Timeout);
        PipeReader input = pair.Server.Transport.Input;

        ValueTask<ReadResult> pending = input.ReadAsync(cts.Token);
        // The reader's continuation must not run on the canceling thread (the timeout sweeper's, in the gateway).
        var continuedOn = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        pending.GetAwaiter().UnsafeOnCompleted(() => continuedOn.SetResult(Environment.CurrentManagedThreadId));
        int canceledOn = 0;
        var canceler = new Thread(() =>
        {
            canceledOn = Environment.CurrentManagedThreadId;
            input.CancelPendingRead();
        });
        canceler.Start();
        canceler.Join();
        Assert.NotEqual(canceledOn, await continuedOn.Task.WaitAsync(Timeout));
        ReadResult canceled = await pending;
        Assert.True(canceled.IsCanceled);
        Assert.True(canceled.Buffer.IsEmpty);
        input.AdvanceTo(canceled.Buffer.End);

        await pair.Client.SendAsync("after"u8.ToArray(), cts.Token);
        ReadResult read = await input.ReadAsync(cts.Token);
        Assert.False(read.IsCanceled);
        Assert.Equal("after"u8.ToArray(), read.Buffer.ToArray());
        input.AdvanceTo(read.Buffer.End);
    }

    [Fact]
    public async Task A_frame_arriving_in_pieces_is_read_whole_once_the_reader_has_examined_each_piece()
    {
        await using Pair pair = await Pair.ConnectAsync();
        using var cts = new CancellationTokenSource(Timeout);
        PipeReader input = pair.Server.Transport.Input;
        byte[] whole = new byte[300_000];
        new Random(7).NextBytes(whole);

        Task sending = Task.Run(async () =>
        {
            for (int offset = 0; offset < whole.Length; offset += 10_000)
            {
                await pair.Client.SendAsync(whole.AsMemory(offset, 10_000), cts.Token);
                await Task.Yield();
            }
        });
        ReadResult read;
        while (true)
        {
            read = await input.ReadAsync(cts.Token);
            if (read.Buffer.Length >= whole.Length)
            {
                break;
            }
            input.AdvanceTo(read.Buffer.Start, read.Buffer.End); // nothing consumed, everything examined: wait for more
        }
        Assert.Equal(whole, read.Buffer.ToArray());
        input.AdvanceTo(read.Buffer.End);
        await sending;
    }

    [Fact]
    public async Task A_peer_that_resets_ends_reads_with_an_IOException_or_the_end_of_input()
    {
        await using Pair pair = await Pair.ConnectAsync();
        using var cts = new CancellationTokenSource(Timeout);
        ValueTask<ReadResult> pending = pair.Server.Transport.Input.ReadAsync(cts.Token);
        pair.Client.LingerState = new LingerOption(true, 0); // close with RST
        pair.Client.Close();
        try
        {
            Assert.True((await pending).IsCompleted);
        }
        catch (IOException)
        {
            // A reset reported as such: what the WebSocket layer expects from a transport.
        }
        // Writing to the reset connection fails the same way, and never with anything else.
        try
        {
            await pair.Server.Transport.Output.WriteAsync(new byte[64 * 1024], cts.Token);
            await pair.Server.Transport.Output.WriteAsync(new byte[64 * 1024], cts.Token);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Writes_larger_than_the_socket_takes_at_once_arrive_whole_and_in_order_at_a_slow_reader()
    {
        await using Pair pair = await Pair.ConnectAsync();
        using var cts = new CancellationTokenSource(Timeout);
        byte[] sent = new byte[8 << 20]; // far more than loopback's socket buffers: the flush has to wait for the reader
        new Random(11).NextBytes(sent);

        ValueTask<FlushResult> flush = pair.Server.Transport.Output.WriteAsync(sent, cts.Token);
        Assert.False(flush.IsCompleted); // the client has not read yet
        byte[] received = new byte[sent.Length];
        int total = 0;
        while (total < received.Length)
        {
            int n = await pair.Client.ReceiveAsync(received.AsMemory(total), cts.Token);
            Assert.NotEqual(0, n);
            total += n;
        }
        await flush;
        Assert.Equal(sent, received);
    }

    [Fact]
    public async Task A_flush_given_up_through_its_token_fails_the_writer_for_good()
    {
        await using Pair pair = await Pair.ConnectAsync();
        using var giveUp = new CancellationTokenSource();
        ValueTask<FlushResult> flush = pair.Server.Transport.Output.WriteAsync(new byte[8 << 20], giveUp.Token);
        Assert.False(flush.IsCompleted);
        giveUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await flush);
        await Assert.ThrowsAsync<ConnectionAbortedException>(async () => await pair.Server.Transport.Output.WriteAsync(new byte[1]));
    }

    [Fact]
    public async Task Input_past_the_read_buffer_bound_fails_the_read_instead_of_growing()
    {
        await using Pair pair = await Pair.ConnectAsync(maxReadBufferBytes: 64 * 1024);
        using var cts = new CancellationTokenSource(Timeout);
        PipeReader input = pair.Server.Transport.Input;
        Task sending = pair.Client.SendAsync(new byte[256 * 1024], cts.Token).AsTask();
        await Assert.ThrowsAsync<ConnectionAbortedException>(async () =>
        {
            while (true)
            {
                ReadResult read = await input.ReadAsync(cts.Token);
                Assert.True(read.Buffer.Length <= 64 * 1024 + 1024);
                input.AdvanceTo(read.Buffer.Start, read.Buffer.End); // never consumes: asks for ever more
            }
        });
        pair.Server.Abort(new ConnectionAbortedException("done"));
        try
        {
            await sending; // the rest fit in the socket buffers,
        }
        catch (SocketException)
        {
            // or the shutdown cut it off
        }
    }

    [Fact]
    public async Task Bytes_written_but_not_flushed_are_sent_when_the_writer_completes()
    {
        await using Pair pair = await Pair.ConnectAsync();
        using var cts = new CancellationTokenSource(Timeout);
        PipeWriter output = pair.Server.Transport.Output;
        "last words"u8.CopyTo(output.GetSpan(10));
        output.Advance(10);
        output.Complete(); // as a Pipe hands unflushed bytes to its reader

        byte[] received = new byte[16];
        Assert.Equal(10, await pair.Client.ReceiveAsync(received, cts.Token));
        Assert.Equal("last words"u8.ToArray(), received[..10]);
    }

    [Fact]
    public async Task Completing_the_reader_ends_a_read_still_waiting_instead_of_leaving_it_hanging()
    {
        await using Pair pair = await Pair.ConnectAsync();
        PipeReader input = pair.Server.Transport.Input;
        ValueTask<ReadResult> pending = input.ReadAsync();
        Assert.False(pending.IsCompleted);
        input.Complete();
        Assert.True((await pending.AsTask().WaitAsync(Timeout)).IsCompleted);
    }

    [Fact]
    public async Task A_feature_set_on_the_connection_replaces_the_one_it_implements()
    {
        await using Pair pair = await Pair.ConnectAsync();
        var items = new ItemsFeature();
        Assert.Same(pair.Server, pair.Server.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature>());
        pair.Server.Features.Set<Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature>(items);
        Assert.Same(items, pair.Server.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature>());
        pair.Server.Features.Set<Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature>(null);
        Assert.Same(pair.Server, pair.Server.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature>());
    }

    [Fact]
    public async Task An_accepted_connection_holds_no_Socket_until_asked_for_an_endpoint_and_has_Nagle_off()
    {
        await using Pair pair = await Pair.ConnectAsync();
        var server = (DirectSocketConnection)pair.Server;
        Assert.True(NonBlockingSocket.Supported, "the gateway's target (Linux) accepts bare descriptors");
        await pair.Client.SendAsync("ping"u8.ToArray());
        ReadResult read = await server.Transport.Input.ReadAsync().AsTask().WaitAsync(Timeout);
        server.Transport.Input.AdvanceTo(read.Buffer.End);
        await server.Transport.Output.WriteAsync("pong"u8.ToArray());
        Assert.False(server.HasSocket); // reading and writing need only the descriptor

        Assert.Equal(pair.Client.LocalEndPoint, server.RemoteEndPoint);
        Assert.Equal(pair.Client.RemoteEndPoint, server.LocalEndPoint);
        Assert.True(server.HasSocket);
        Assert.True(server.Socket.NoDelay); // set on the descriptor at accept
    }

    [Fact]
    public async Task ConnectionClosed_callbacks_run_off_the_aborting_thread_and_cannot_make_Abort_throw()
    {
        await using Pair pair = await Pair.ConnectAsync();
        var ranOn = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        pair.Server.ConnectionClosed.Register(() =>
        {
            ranOn.SetResult(Environment.CurrentManagedThreadId);
            throw new InvalidOperationException("a careless callback");
        });
        int abortingThread = Environment.CurrentManagedThreadId;
        pair.Server.Abort(new ConnectionAbortedException("test")); // must not throw
        Assert.True(pair.Server.ConnectionClosed.IsCancellationRequested);
        Assert.NotEqual(abortingThread, await ranOn.Task.WaitAsync(Timeout));
    }

    [Fact]
    public async Task ConnectionClosed_fires_when_a_read_finds_the_peer_gone()
    {
        await using Pair pair = await Pair.ConnectAsync();
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pair.Server.ConnectionClosed.Register(() => closed.SetResult());
        ValueTask<ReadResult> pending = pair.Server.Transport.Input.ReadAsync();
        Assert.False(pair.Server.ConnectionClosed.IsCancellationRequested);
        pair.Client.Shutdown(SocketShutdown.Send); // the client is done sending
        Assert.True((await pending.AsTask().WaitAsync(Timeout)).IsCompleted);
        await closed.Task.WaitAsync(Timeout); // as Kestrel's transport signals it (its HTTP layer aborts requests on it)
    }

    [Fact]
    public async Task Binding_a_port_in_use_fails_with_AddressInUseException()
    {
        await using DirectSocketListener first = DirectSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), 1 << 20, NullLogger.Instance);
        Assert.Throws<AddressInUseException>(() => DirectSocketListener.Bind((IPEndPoint)first.EndPoint, 1 << 20, NullLogger.Instance));
    }

    [Fact]
    public async Task Accept_returns_null_once_the_listener_is_unbound()
    {
        DirectSocketListener listener = DirectSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), 1 << 20, NullLogger.Instance);
        ValueTask<ConnectionContext?> accepting = listener.AcceptAsync();
        await listener.UnbindAsync();
        Assert.Null(await accepting);
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task Clients_accepted_in_order_and_those_never_taken_are_closed_when_the_listener_is_unbound()
    {
        using var cts = new CancellationTokenSource(Timeout);
        DirectSocketListener listener = DirectSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), 1 << 20, NullLogger.Instance);
        var clients = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync(listener.EndPoint, cts.Token);
                await client.SendAsync(new[] { (byte)i }, cts.Token);
            }
            // The first two, in the order they connected (each says which it is).
            for (byte i = 0; i < 2; i++)
            {
                ConnectionContext? server = await listener.AcceptAsync(cts.Token);
                Assert.NotNull(server);
                ReadResult read = await server.Transport.Input.ReadAsync(cts.Token);
                Assert.Equal(new[] { i }, read.Buffer.ToArray());
                server.Transport.Input.AdvanceTo(read.Buffer.End);
                await server.DisposeAsync();
            }

            await listener.UnbindAsync();
            Assert.Null(await listener.AcceptAsync(cts.Token));
            // The other two were accepted by the listener's thread (or still in the kernel's backlog) but never handed
            // out: their clients see the connection end instead of hanging.
            foreach (Socket client in clients.Skip(2))
            {
                byte[] buffer = new byte[1];
                try
                {
                    Assert.Equal(0, await client.ReceiveAsync(buffer, cts.Token));
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
                {
                }
            }
        }
        finally
        {
            await listener.DisposeAsync();
            foreach (Socket client in clients)
            {
                client.Dispose();
            }
        }
    }

    private sealed class ItemsFeature : Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature
    {
        public IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();
    }

    /// <summary>A real TCP client connected to a <see cref="DirectSocketListener"/>, and the server side's connection.</summary>
    private sealed class Pair : IAsyncDisposable
    {
        private readonly DirectSocketListener _listener;

        private Pair(DirectSocketListener listener, Socket client, ConnectionContext server)
        {
            _listener = listener;
            Client = client;
            Server = server;
        }

        public Socket Client { get; }
        public ConnectionContext Server { get; }

        public static async Task<Pair> ConnectAsync(int maxReadBufferBytes = 1 << 20)
        {
            DirectSocketListener listener = DirectSocketListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), maxReadBufferBytes, NullLogger.Instance);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            ValueTask<ConnectionContext?> accepting = listener.AcceptAsync();
            await client.ConnectAsync(listener.EndPoint);
            ConnectionContext server = (await accepting)!;
            return new Pair(listener, client, server);
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            await Server.DisposeAsync();
            await _listener.DisposeAsync();
        }
    }
}
