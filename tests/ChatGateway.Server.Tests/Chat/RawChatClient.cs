using System.Buffers;
using System.Net.WebSockets;
using ChatGateway.Protocol;

namespace ChatGateway.Server.Tests.Chat;

/// <summary>
/// A bare ClientWebSocket speaking the protocol by hand: for asserting exact frames, sending hostile ones, and
/// reading (or not reading) at will. Every wait is bounded by <see cref="Timeout"/>.
/// </summary>
public sealed class RawChatClient : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly ClientWebSocket _socket;
    private uint _nextRid;
    private byte[] _buffer = new byte[64 * 1024]; // grows to the largest message received

    private RawChatClient(ClientWebSocket socket) => _socket = socket;

    public ClientWebSocket Socket => _socket;
    public HelloFields Hello { get; private set; }

    public static async Task<RawChatClient> ConnectAsync(Uri server, string token, bool readHello = true)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(server, cts.Token);
        var client = new RawChatClient(socket);
        if (readHello)
        {
            client.Hello = Assert.IsType<HelloMessage>(await client.ReceiveAsync()).Fields;
        }
        return client;
    }

    public uint NextRid() => ++_nextRid;

    public async Task SendRawAsync(ReadOnlyMemory<byte> payload, WebSocketMessageType type = WebSocketMessageType.Binary)
    {
        using var cts = new CancellationTokenSource(Timeout);
        await _socket.SendAsync(payload, type, true, cts.Token);
    }

    public async Task<uint> SendAsync(Action<IBufferWriter<byte>, uint> write)
    {
        uint rid = NextRid();
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer, rid);
        await SendRawAsync(buffer.WrittenMemory);
        return rid;
    }

    /// <summary>The next server message (skipping nothing).</summary>
    public async Task<ServerMessage> ReceiveAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        int length = 0;
        while (true)
        {
            if (length == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
            ValueWebSocketReceiveResult result = await _socket.ReceiveAsync(_buffer.AsMemory(length), cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new WebSocketClosedException(_socket.CloseStatus, _socket.CloseStatusDescription);
            }
            length += result.Count;
            if (result.EndOfMessage)
            {
                return ServerMessageReader.Read(new ReadOnlySequence<byte>(_buffer, 0, length)) ?? throw new InvalidOperationException("unknown message type");
            }
        }
    }

    /// <summary>Receives until a message of type <typeparamref name="T"/> matching <paramref name="match"/> comes; others are collected in <paramref name="skipped"/>.</summary>
    public async Task<T> ReceiveAsync<T>(Func<T, bool>? match = null, List<ServerMessage>? skipped = null) where T : ServerMessage
    {
        while (true)
        {
            ServerMessage message = await ReceiveAsync();
            if (message is T typed && (match is null || match(typed)))
            {
                return typed;
            }
            skipped?.Add(message);
        }
    }

    /// <summary>The answer to request <paramref name="rid"/> (Ack, Ok, Error, SyncResult, ConversationList).</summary>
    public Task<ServerMessage> ReplyAsync(uint rid) => ReceiveAsync<ServerMessage>(m => m is IReply r && r.RequestId == rid);

    public async Task<AckMessage> SendMessageAsync(long conversation, string body, Guid? id = null, long toUser = 0)
    {
        byte[] cmid = (id ?? Guid.NewGuid()).ToByteArray(bigEndian: true);
        uint rid = await SendAsync((o, r) => ClientRequestWriter.Send(o, r, conversation, toUser, cmid, System.Text.Encoding.UTF8.GetBytes(body)));
        ServerMessage reply = await ReplyAsync(rid);
        return reply is ErrorMessage error
            ? throw new Xunit.Sdk.XunitException($"Send got error {error.Code}: {error.Text}")
            : Assert.IsType<AckMessage>(reply);
    }

    /// <summary>Waits for the server to close; returns the close status.</summary>
    public async Task<WebSocketCloseStatus?> WaitClosedAsync()
    {
        try
        {
            while (true)
            {
                await ReceiveAsync();
            }
        }
        catch (WebSocketClosedException closed)
        {
            return closed.Status;
        }
        catch (WebSocketException)
        {
            return _socket.CloseStatus; // TCP dropped
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
            }
        }
        _socket.Dispose();
    }
}

public sealed class WebSocketClosedException(WebSocketCloseStatus? status, string? description)
    : Exception($"closed by the server: {status} {description}")
{
    public WebSocketCloseStatus? Status { get; } = status;
}
