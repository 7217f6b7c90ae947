using System.Buffers;
using ChatGateway.Protocol;
using ChatGateway.Server.Auth;
using ChatGateway.Server.Messaging;
using ChatGateway.Server.Presence;
using ChatGateway.Storage.Reading;
using ChatGateway.WebSockets.Connections;
using ChatGateway.WebSockets.Framing;
using MessagePack;
using Microsoft.Extensions.Logging;

namespace ChatGateway.Server.Sessions;

/// <summary>
/// One authenticated client connection. Inbound: the WebSocket read loop hands each message to
/// <see cref="OnMessageAsync"/> (rate limit, decode, dispatch; see ChatSession.Requests.cs). Outbound: every frame
/// for this client (answers, deliveries, events) goes through one bounded outbound queue, drained only while frames
/// wait, up to 64 frames per flush: the session's base class (<see cref="OutboundQueue"/>, 48 B less per connection
/// than a queue object of its own). A client that lets the queue overflow is closed with 4008.
/// </summary>
public sealed partial class ChatSession : OutboundQueue, IWebSocketSession, IRequester, IPresenceSession, IPresenceSubscriber
{
    private readonly ChatNode _node;
    private RateLimiter _rate; // a mutable struct: never copied, only used through this field
    private readonly Guid _sessionId;
    private WebSocketConnection? _connection;
    private int _closing;
    private bool _closedByServer;
    private long _tokenExpiresAtMs;

    public ChatSession(ChatNode node, AuthenticatedUser user)
    {
        _node = node;
        UserId = user.UserId;
        _tokenExpiresAtMs = user.ExpiresAtMs;
        _sessionId = Guid.NewGuid();
    }

    /// <summary>The node's options, read through the node: a field of its own would cost 8 B per connection.</summary>
    private ChatOptions Options => _node.Options;

    public long UserId { get; }
    /// <summary>Formatted when asked (Hello, logs): kept as a Guid, 16 bytes instead of an 88-byte string per session.</summary>
    public string SessionId => _sessionId.ToString("N");
    public long TokenExpiresAtMs => Volatile.Read(ref _tokenExpiresAtMs);
    public bool IsClosing => Volatile.Read(ref _closing) != 0;

    /// <summary>Unix ms of the last inbound frame (any frame: requests, heartbeats, pongs, the close frame).</summary>
    public long LastActivityMs
    {
        get
        {
            long now = _node.Time.GetUtcNow().ToUnixTimeMilliseconds();
            return _connection is { } connection
                ? now - (long)_node.Time.GetElapsedTime(connection.LastInboundTimestamp).TotalMilliseconds
                : now;
        }
    }

    public void OnOpened(WebSocketConnection connection)
    {
        _connection = connection;
        SendHello(); // first frame of every session
        ChatSession? evicted = _node.Registry.Register(this);
        evicted?.Close(CloseCode.SessionLimit, "too many sessions for this user; the oldest was closed");
        SendPending(); // read after registering: an entry written before is in it, a message after is delivered live
        _node.Presence.SessionOpened(this);
    }

    public void OnClosed(WebSocketConnection connection, ushort closeCode)
    {
        Interlocked.Exchange(ref _closing, 1);
        CompleteOutbound();
        _node.Registry.Unregister(this);
        // Graceful: the client said goodbye (1000, or 1001 as browsers do when a tab closes); its close frame is
        // recent activity. A close the server started (shutdown, slow consumer, expiry, the idle timeout's 1001
        // after 90 s of silence) or a lost connection falls back to last_seen's age.
        long silentMs = _node.Time.GetUtcNow().ToUnixTimeMilliseconds() - LastActivityMs;
        bool graceful = !_closedByServer && closeCode is CloseCode.Normal or CloseCode.GoingAway
                        && silentMs < (long)_node.PresenceOptions.OnlineWindow.TotalMilliseconds;
        _node.Presence.SessionClosed(this, graceful);
        _node.Presence.RemoveSubscriber(this);
    }

    public void SendPresenceEvent(IReadOnlyList<PresenceEntry> changes)
    {
        OutboundFrame frame = OutboundFrame.Rent(8 + changes.Count * 24);
        MessagePackWriter w = frame.Writer();
        ServerMessageWriter.PresenceEvent(ref w, changes);
        w.Flush();
        Enqueue(frame.Seal());
    }

    /// <summary>
    /// Queues a frame for this client, taking over the caller's reference. Never blocks: a full queue means the
    /// client is not reading, and it is disconnected (4008) rather than buffered for without limit.
    /// </summary>
    public void Enqueue(OutboundFrame frame) => CloseIfFull(TryEnqueue(frame));

    private void CloseIfFull(EnqueueResult result)
    {
        if (result == EnqueueResult.Full && !IsClosing)
        {
            _node.Logger.LogInformation("Session {Session} of user {User}: outbound queue full, closing as a slow consumer", SessionId, UserId);
            Close(CloseCode.SlowConsumer, "slow consumer: outbound queue overflowed");
        }
    }

    /// <summary>
    /// Closes with <paramref name="code"/>. Frames still queued are dropped (the client syncs on reconnect). A close
    /// frame stuck behind a client that does not read at all is given up after WebSockets:CloseTimeout, and TCP dropped.
    /// </summary>
    public void Close(ushort code, string reason)
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0 || _connection is not { } connection)
        {
            return;
        }
        _closedByServer = true;
        CompleteOutbound();
        _ = connection.CloseAsync(code, reason).AsTask();
    }

    /// <summary>Before <see cref="OnOpened"/> there is no connection (only benchmarks queue to such a session): the queue closes.</summary>
    protected override ValueTask<bool> WriteAsync(FrameBatch batch) => _connection is { } connection ? connection.SendAsync(batch) : ValueTask.FromResult(false);

    protected override int MaxFrames => Options.MaxQueuedFrames;

    protected override long MaxBytes => Options.MaxQueuedBytes;

    // ------------------------------------------------------------ answers

    public void SendAck(uint rid, long conversation, long seq, long timestamp, bool duplicate)
    {
        Span<byte> payload = stackalloc byte[ServerMessageWriter.MaxAckBytes];
        int length = ServerMessageWriter.Ack(payload, rid, conversation, seq, timestamp, duplicate);
        EnqueueSmall(payload[..length]);
    }

    public void SendOk(uint rid, long value)
    {
        ArrayBufferWriter<byte> payload = SmallAnswer();
        MessagePackWriter w = new(payload);
        ServerMessageWriter.Ok(ref w, rid, value);
        w.Flush();
        EnqueueSmall(payload.WrittenSpan);
    }

    // Oks are encoded here (Acks on the stack), then copied into a frame the queue shares between them (OutboundQueue.TryEnqueueSmall).
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_smallAnswer;

    private static ArrayBufferWriter<byte> SmallAnswer()
    {
        ArrayBufferWriter<byte> buffer = t_smallAnswer ??= new ArrayBufferWriter<byte>(MaxSmallPayload);
        buffer.ResetWrittenCount();
        return buffer;
    }

    private void EnqueueSmall(ReadOnlySpan<byte> payload) => CloseIfFull(TryEnqueueSmall(payload));

    public void SendError(uint rid, string code, string message)
    {
        OutboundFrame frame = OutboundFrame.Rent(32 + code.Length + message.Length * 3);
        MessagePackWriter w = frame.Writer();
        ServerMessageWriter.Error(ref w, rid, code, message);
        w.Flush();
        Enqueue(frame.Seal());
    }

    private void SendHello()
    {
        OutboundFrame frame = OutboundFrame.Rent(96);
        MessagePackWriter w = frame.Writer();
        ServerMessageWriter.Hello(ref w, new HelloFields(UserId, SessionId, (long)Options.HeartbeatInterval.TotalMilliseconds,
            Options.MaxBodyBytes, Options.MaxGroupMembers, _node.Time.GetUtcNow().ToUnixTimeMilliseconds(), TokenExpiresAtMs,
            Options.MaxPageMessages, _node.Store.Count));
        w.Flush();
        Enqueue(frame.Seal());
    }

    /// <summary>
    /// The user's pending entries over every shard, oldest first per shard, with the cursor that acknowledges
    /// them (one queue position per shard). Nothing is sent when nothing is pending and nothing was dropped.
    /// </summary>
    private void SendPending()
    {
        ShardedStore store = _node.Store;
        var pages = new PendingPage[store.Count];
        int items = 0;
        bool truncated = false, hasMore = false;
        int perShard = Math.Max(1, Options.MaxPendingPerMessage / store.Count);
        for (int shard = 0; shard < store.Count; shard++)
        {
            var page = new PendingPage();
            store[shard].ReadPending(UserId, perShard, page);
            pages[shard] = page;
            items += page.Items.Count;
            truncated |= page.Dropped > 0;
            hasMore |= page.HasMore;
        }
        if (items == 0 && !truncated)
        {
            return;
        }
        Span<byte> cursor = stackalloc byte[store.Count * 8];
        OutboundFrame frame = OutboundFrame.Rent(32 + items * 40 + cursor.Length);
        MessagePackWriter w = frame.Writer();
        ServerMessageWriter.PendingHeader(ref w, items);
        for (int shard = 0; shard < pages.Length; shard++)
        {
            foreach (PendingItem item in pages[shard].Items)
            {
                ServerMessageWriter.PendingEntry(ref w, item.Conversation, item.FromSeq, item.ToSeq, item.Expired);
            }
            System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(cursor[(shard * 8)..], pages[shard].NextPosition);
        }
        ServerMessageWriter.PendingEnd(ref w, truncated, cursor, hasMore);
        w.Flush();
        Enqueue(frame.Seal());
    }
}
