using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Threading.Channels;
using ChatGateway.Protocol;

namespace ChatGateway.Client;

/// <summary>
/// A client for one user's device. Connect, then read <see cref="Events"/>: messages arrive per conversation in
/// seq order with no gaps and no repeats, whether delivered live or fetched after a reconnect. Requests are
/// methods returning the server's answer; <see cref="SendAsync"/> survives reconnects (a retried send carries
/// the same client message id, so the server stores it once and answers with the original ack).
/// </summary>
public sealed partial class ChatClient : IAsyncDisposable
{
    private readonly Uri _server;
    private readonly Func<CancellationToken, ValueTask<string>> _tokenProvider;
    private readonly ChatClientOptions _options;
    private readonly ClientMessageIdSource _messageIds = new();
    private readonly Channel<ChatEvent> _events;
    private readonly SemaphoreSlim _stateLock = new(1, 1);
    private readonly ConversationTracker _tracker;
    private readonly ConcurrentDictionary<uint, TaskCompletionSource<ServerMessage>> _requests = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();
    private readonly Backoff _backoff;
    private readonly HashSet<long> _presenceSubscriptions = [];
    private readonly Dictionary<long, Task> _fills = [];
    private volatile TaskCompletionSource _online = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ClientWebSocket? _socket;
    private Task _run = Task.CompletedTask;
    private int _nextRequestId;
    private ITimer? _heartbeat;
    private ITimer? _refresh;

    /// <param name="server">The gateway's WebSocket address, e.g. ws://host:8080/ws.</param>
    /// <param name="tokenProvider">Gives a valid access token; called on every (re)connect and before the token expires.</param>
    public ChatClient(Uri server, Func<CancellationToken, ValueTask<string>> tokenProvider, ChatClientOptions? options = null)
    {
        _server = server;
        _tokenProvider = tokenProvider;
        _options = options ?? new ChatClientOptions();
        _events = Channel.CreateBounded<ChatEvent>(new BoundedChannelOptions(_options.EventQueueCapacity)
        {
            SingleWriter = false, FullMode = BoundedChannelFullMode.Wait,
        });
        _tracker = new ConversationTracker(_options.MaxBufferedPerConversation);
        foreach ((long conversation, long last) in _options.KnownPositions ?? new Dictionary<long, long>())
        {
            _tracker.Seed(conversation, last);
        }
        _backoff = new Backoff(_options.InitialReconnectDelay, _options.MaxReconnectDelay);
    }

    /// <summary>Everything that happens, in order. Read it continuously: a full queue pauses reading from the server.</summary>
    public ChannelReader<ChatEvent> Events => _events.Reader;

    /// <summary>The Hello of the current (or last) session.</summary>
    public HelloFields? Hello { get; private set; }

    public long UserId => Hello?.User ?? 0;

    public bool IsConnected => _online.Task.IsCompletedSuccessfully;

    /// <summary>Last seq held per conversation: persist it and pass it back as <see cref="ChatClientOptions.KnownPositions"/>.</summary>
    public async Task<IReadOnlyDictionary<long, long>> GetPositionsAsync()
    {
        await _stateLock.WaitAsync().ConfigureAwait(false);
        try
        {
            return _tracker.Positions();
        }
        finally
        {
            _stateLock.Release();
        }
    }

    /// <summary>Opens the first session (throws if that fails) and starts catching up; reconnects on its own afterwards.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        ClientWebSocket socket = await OpenAsync(reconnected: false, cancellationToken).ConfigureAwait(false);
        _run = Task.Run(() => RunAsync(socket));
    }

    // ------------------------------------------------------------ requests

    /// <summary>Sends to a conversation; returns the ack (seq, timestamp). Retried across reconnects with the same id until acked.</summary>
    public Task<AckMessage> SendAsync(long conversation, ReadOnlyMemory<byte> body, Guid? clientMessageId = null, CancellationToken cancellationToken = default) =>
        SendCoreAsync(conversation, 0, body, clientMessageId ?? _messageIds.Next(), cancellationToken);

    /// <summary>Sends to the 1:1 conversation with <paramref name="user"/> (created by the first message).</summary>
    public Task<AckMessage> SendToUserAsync(long user, ReadOnlyMemory<byte> body, Guid? clientMessageId = null, CancellationToken cancellationToken = default) =>
        SendCoreAsync(0, user, body, clientMessageId ?? _messageIds.Next(), cancellationToken);

    private async Task<AckMessage> SendCoreAsync(long conversation, long toUser, ReadOnlyMemory<byte> body, Guid clientMessageId, CancellationToken cancellationToken)
    {
        byte[] id = clientMessageId.ToByteArray(bigEndian: true);
        while (true)
        {
            await WaitOnlineAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var ack = (AckMessage)await RequestAsync((output, rid) => ClientRequestWriter.Send(output, rid, conversation, toUser, id, body.Span),
                    cancellationToken).ConfigureAwait(false);
                await OnOwnAckAsync(ack).ConfigureAwait(false);
                return ack;
            }
            catch (ConnectionLostException) when (_options.AutoReconnect && !_disposed.IsCancellationRequested)
            {
                // Not known whether the server stored it: send again with the same id once reconnected.
            }
        }
    }

    public async Task<SyncResultMessage> SyncAsync(long conversation, long afterSeq, int limit, CancellationToken cancellationToken = default) =>
        (SyncResultMessage)await RequestAsync((o, rid) => ClientRequestWriter.Sync(o, rid, conversation, afterSeq, limit), cancellationToken).ConfigureAwait(false);

    /// <summary>Messages before <paramref name="beforeSeq"/> (0: the newest), oldest first. Not tracked: history is for display.</summary>
    public async Task<SyncResultMessage> HistoryAsync(long conversation, long beforeSeq, int limit, CancellationToken cancellationToken = default) =>
        (SyncResultMessage)await RequestAsync((o, rid) => ClientRequestWriter.History(o, rid, conversation, beforeSeq, limit), cancellationToken).ConfigureAwait(false);

    public async Task<ConversationListMessage> ListConversationsAsync(long changedSince = 0, long cursor = 0, int limit = 500, CancellationToken cancellationToken = default) =>
        (ConversationListMessage)await RequestAsync((o, rid) => ClientRequestWriter.ListConversations(o, rid, changedSince, cursor, limit), cancellationToken).ConfigureAwait(false);

    /// <summary>Creates a group with the caller and <paramref name="members"/>; returns its conversation id.</summary>
    public async Task<long> CreateGroupAsync(IReadOnlyList<long> members, CancellationToken cancellationToken = default) =>
        ((OkMessage)await RequestAsync((o, rid) => ClientRequestWriter.CreateGroup(o, rid, members), cancellationToken).ConfigureAwait(false)).Value;

    /// <summary>Returns how many were added (those already members are skipped).</summary>
    public async Task<long> AddMembersAsync(long conversation, IReadOnlyList<long> members, CancellationToken cancellationToken = default) =>
        ((OkMessage)await RequestAsync((o, rid) => ClientRequestWriter.AddMembers(o, rid, conversation, members), cancellationToken).ConfigureAwait(false)).Value;

    public async Task<long> RemoveMembersAsync(long conversation, IReadOnlyList<long> members, CancellationToken cancellationToken = default) =>
        ((OkMessage)await RequestAsync((o, rid) => ClientRequestWriter.RemoveMembers(o, rid, conversation, members), cancellationToken).ConfigureAwait(false)).Value;

    public async Task LeaveAsync(long conversation, CancellationToken cancellationToken = default) =>
        await RequestAsync((o, rid) => ClientRequestWriter.Leave(o, rid, conversation), cancellationToken).ConfigureAwait(false);

    /// <summary>Marks the conversation read up to <paramref name="seq"/>; returns the read position now stored.</summary>
    public async Task<long> MarkReadAsync(long conversation, long seq, CancellationToken cancellationToken = default) =>
        ((OkMessage)await RequestAsync((o, rid) => ClientRequestWriter.Read(o, rid, conversation, seq), cancellationToken).ConfigureAwait(false)).Value;

    public async Task TypingAsync(long conversation, CancellationToken cancellationToken = default) =>
        await RequestAsync((o, rid) => ClientRequestWriter.Typing(o, rid, conversation), cancellationToken).ConfigureAwait(false);

    /// <summary>The presence of <paramref name="users"/> (those the server lets this user see; the rest are in Refused).</summary>
    public async Task<PresenceResultMessage> QueryPresenceAsync(IReadOnlyList<long> users, CancellationToken cancellationToken = default) =>
        (PresenceResultMessage)await RequestAsync((o, rid) => ClientRequestWriter.PresenceQuery(o, rid, users), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Subscribes to <paramref name="users"/>: returns their presence now; changes then arrive as
    /// <see cref="PresenceChangedEvent"/>. Subscriptions last for the session: the client renews them after a reconnect.
    /// </summary>
    public async Task<PresenceResultMessage> SubscribePresenceAsync(IReadOnlyList<long> users, CancellationToken cancellationToken = default)
    {
        var result = (PresenceResultMessage)await RequestAsync((o, rid) => ClientRequestWriter.PresenceSubscribe(o, rid, users), cancellationToken).ConfigureAwait(false);
        lock (_presenceSubscriptions)
        {
            _presenceSubscriptions.UnionWith(users);
        }
        return result;
    }

    public async Task UnsubscribePresenceAsync(IReadOnlyList<long> users, CancellationToken cancellationToken = default)
    {
        lock (_presenceSubscriptions)
        {
            _presenceSubscriptions.ExceptWith(users);
        }
        await RequestAsync((o, rid) => ClientRequestWriter.PresenceUnsubscribe(o, rid, users), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Declares this user away while active (an app in the background), or back to automatic.</summary>
    public async Task SetStatusAsync(DeclaredStatus status, CancellationToken cancellationToken = default) =>
        await RequestAsync((o, rid) => ClientRequestWriter.SetStatus(o, rid, status), cancellationToken).ConfigureAwait(false);

    /// <summary>Sends one request and waits for its answer; an Error answer throws <see cref="ChatException"/>.</summary>
    private async Task<ServerMessage> RequestAsync(Action<IBufferWriter<byte>, uint> write, CancellationToken cancellationToken)
    {
        ClientWebSocket socket = _socket ?? throw new ConnectionLostException("not connected");
        uint rid = (uint)Interlocked.Increment(ref _nextRequestId);
        var answer = new TaskCompletionSource<ServerMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests[rid] = answer;
        try
        {
            var payload = new ArrayBufferWriter<byte>(128);
            write(payload, rid);
            await SendFrameAsync(socket, payload.WrittenMemory, cancellationToken).ConfigureAwait(false);
            ServerMessage reply = await answer.Task.WaitAsync(_options.RequestTimeout, cancellationToken).ConfigureAwait(false);
            return reply is ErrorMessage error ? throw new ChatException(error.Code, error.Text) : reply;
        }
        finally
        {
            _requests.TryRemove(rid, out _);
        }
    }

    private async Task SendFrameAsync(ClientWebSocket socket, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await socket.SendAsync(payload, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException)
        {
            throw new ConnectionLostException("the connection ended: " + ex.Message);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task WaitOnlineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            _disposed.Token.ThrowIfCancellationRequested();
            Task online = _online.Task;
            if (online.IsCompletedSuccessfully)
            {
                return;
            }
            if (online.IsFaulted)
            {
                await online.ConfigureAwait(false); // stopped for good: rethrows why
            }
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
            await online.WaitAsync(linked.Token).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed.IsCancellationRequested)
        {
            return;
        }
        _disposed.Cancel();
        _heartbeat?.Dispose();
        _refresh?.Dispose();
        if (_socket is { State: WebSocketState.Open } socket)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
        _socket?.Abort();
        try
        {
            await _run.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _events.Writer.TryComplete();
    }
}
