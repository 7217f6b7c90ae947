using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using ChatGateway.Protocol;
using ChatGateway.Server.Messaging;
using ChatGateway.Storage;
using ChatGateway.Storage.Reading;
using ChatGateway.WebSockets.Connections;
using ChatGateway.WebSockets.Framing;
using MessagePack;

namespace ChatGateway.Server.Sessions;

// Inbound requests: rate limit, decode, check, then either answer from the store (reads) or hand to the
// conversation's sequencer (writes), which answers once the write is committed.
public sealed partial class ChatSession
{
    // Created on first use: most sessions never send a request with a user list, and two empty lists cost 64 bytes
    // per connection for as long as it stays open.
    private List<long>? _members;
    private List<long>? _scratch;
    // Pages are shared by all sessions: a read is encoded before its request returns, so a page is needed only
    // while a Sync or History is being answered. Keeping one per session cost 16 KiB per idle connection.
    private static readonly System.Collections.Concurrent.ConcurrentBag<MessagePage> Pages = [];
    private const int MaxPooledPages = 16;

    /// <summary>
    /// A read's input starts: until <see cref="OnInputHandled"/>, answers to this session leave in one drain at the
    /// end (<see cref="OutboundQueue.BeginOwnInput"/>), and the writes its requests queue reach their shards' writers
    /// as one burst (<see cref="ChatStore.DeferWriterWakes"/>).
    /// </summary>
    public void OnInputStarting()
    {
        BeginOwnInput();
        ChatStore.DeferWriterWakes();
    }

    /// <summary>
    /// The read's requests are handed over: a shard writer they found idle runs their batch here, now (its acks and
    /// Delivers included), and then this session's answers leave in one drain. On a mostly idle node that is the
    /// whole path of a message on one thread, with no other woken (see docs/architecture.md).
    /// </summary>
    public void OnInputHandled()
    {
        try
        {
            ChatStore.RunDeferredWriterWakes();
        }
        finally
        {
            EndOwnInput();
        }
    }

    /// <summary>One message from the client, inside a read's bracket (<see cref="OnInputStarting"/>).</summary>
    public ValueTask OnMessageAsync(WebSocketConnection connection, WebSocketOpcode type, ReadOnlySequence<byte> payload) =>
        HandleMessageAsync(connection, type, payload); // runs here up to its first await that waits

    // Pooled state machine: when this awaits (the common case under load) it would otherwise allocate a box per call.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask HandleMessageAsync(WebSocketConnection connection, WebSocketOpcode type, ReadOnlySequence<byte> payload)
    {
        if (type != WebSocketOpcode.Binary)
        {
            Close(CloseCode.UnsupportedData, "the chat protocol uses binary frames");
            return;
        }
        // When the read holding this frame arrived (the connection stamps each read once, on the same clock): a burst
        // that came in one read is a burst. Reading the clock here per message was 1.6% of the server's CPU in pairs.
        long now = connection.LastInboundTimestamp;
        if (!_rate.TryTake(_node.RateLimits, now, (int)payload.Length))
        {
            Refuse(now, RequestIdOf(payload), ErrorCode.RateLimited, "over the request or byte rate; slow down");
            return;
        }
        ClientRequest request;
        try
        {
            request = ClientRequestReader.Read(payload, ref _members, Options.MaxGroupMembers, out _);
        }
        catch (ProtocolException ex)
        {
            Refuse(now, RequestIdOf(payload), ex.Code, ex.Message);
            return;
        }
        if (_node.IsStopping)
        {
            SendError(request.RequestId, ErrorCode.Unavailable, "the server is shutting down");
            return;
        }
        try
        {
            if (request.Type is MessageType.Sync or MessageType.History or MessageType.ListConversations && WebSocketConnection.IsOnPollerThread)
            {
                // These read pages of messages or conversations, from disk when they are old: not on the thread that
                // every other connection's input waits for.
                await Task.Yield();
            }
            await DispatchAsync(request).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreException or ObjectDisposedException)
        {
            SendError(request.RequestId, ErrorCode.Unavailable, "storage unavailable; the request was not carried out");
        }
        finally
        {
            Shrink(ref _members);
            Shrink(ref _scratch);
        }
    }

    /// <summary>The user list of the request being answered (empty when it carried none).</summary>
    private List<long> Members => _members ??= [];

    /// <summary>A list for the request being answered to work in.</summary>
    private List<long> Scratch => _scratch ??= [];

    /// <summary>
    /// The scratch lists give back what a large request grew them to (a 1,000-member group, a user's thousands
    /// of conversations): kept, that was up to ~8 KB more per session for as long as it stayed connected.
    /// </summary>
    private static void Shrink(ref List<long>? list)
    {
        if (list is { Capacity: > 16 })
        {
            list = null;
        }
        list?.Clear();
    }

    /// <summary>Answers a refused request; a client that keeps being refused is closed with 1008.</summary>
    private void Refuse(long now, uint rid, string code, string message)
    {
        SendError(rid, code, message);
        if (_rate.AddViolation(_node.RateLimits, now))
        {
            Close(CloseCode.PolicyViolation, "too many refused requests");
        }
    }

    /// <summary>The request id of a frame that could not be decoded, when it can still be read; else 0.</summary>
    private static uint RequestIdOf(in ReadOnlySequence<byte> payload)
    {
        try
        {
            var reader = new MessagePackReader(payload);
            if (reader.NextMessagePackType == MessagePackType.Array && reader.ReadArrayHeader() >= 2
                && reader.NextMessagePackType == MessagePackType.Integer)
            {
                reader.Skip();
                if (reader.NextMessagePackType == MessagePackType.Integer && reader.ReadInt64() is >= 0 and <= uint.MaxValue and var rid)
                {
                    return (uint)rid;
                }
            }
        }
        catch (Exception ex) when (ex is MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
        }
        return 0;
    }

    private ValueTask DispatchAsync(in ClientRequest request)
    {
        switch (request.Type)
        {
            case MessageType.Send:
                Send(request);
                break;
            case MessageType.Sync:
                Sync(request);
                break;
            case MessageType.History:
                History(request);
                break;
            case MessageType.ListConversations:
                ListConversations(request);
                break;
            case MessageType.CreateGroup:
                CreateGroup(request);
                break;
            case MessageType.AddMembers:
            case MessageType.RemoveMembers:
                ChangeMembers(request);
                break;
            case MessageType.Leave:
                Leave(request);
                break;
            case MessageType.Read:
                Read(request);
                break;
            case MessageType.Typing:
                Typing(request);
                break;
            case MessageType.Heartbeat:
                _node.Presence.Touch(UserId);
                SendOk(request.RequestId, _node.Time.GetUtcNow().ToUnixTimeMilliseconds());
                break;
            case MessageType.PresenceQuery:
            case MessageType.PresenceSubscribe:
                QueryPresence(request.RequestId, subscribe: request.Type == MessageType.PresenceSubscribe);
                break;
            case MessageType.PresenceUnsubscribe:
                _node.Presence.Unsubscribe(this, Members);
                SendOk(request.RequestId, 0);
                break;
            case MessageType.SetStatus:
                _node.Presence.Declare(UserId, request.Status);
                SendOk(request.RequestId, (long)request.Status);
                break;
            case MessageType.RefreshToken:
                return RefreshTokenAsync(request.RequestId, request.Token!);
            case MessageType.AckPending:
                return AckPendingAsync(request.RequestId, request.PendingCursor);
        }
        return ValueTask.CompletedTask;
    }

    // ------------------------------------------------------------ writes (through the sequencer)

    private void Send(in ClientRequest request)
    {
        uint rid = request.RequestId;
        if (request.Body.Length > Options.MaxBodyBytes)
        {
            SendError(rid, ErrorCode.TooLarge, "the body is larger than the server's limit (see Hello)");
            return;
        }
        if ((request.Conversation == 0) == (request.ToUser == 0))
        {
            SendError(rid, ErrorCode.BadRequest, "give exactly one of conversation and to_user");
            return;
        }
        long conversation;
        long peer = 0;
        if (request.ToUser != 0)
        {
            if (request.ToUser < 0)
            {
                SendError(rid, ErrorCode.BadRequest, "to_user must be a positive user id");
                return;
            }
            conversation = DirectConversation.IdOf(UserId, request.ToUser);
            peer = request.ToUser; // the shard's writer checks the pair (or creates the conversation) from its cache
        }
        else
        {
            // Membership is decided by the shard's writer (which caches it) when the message is appended, as for
            // 1:1: checking here would cost index reads per message, from disk once member records are old.
            conversation = request.Conversation;
            if (!ConversationId.IsValid(conversation))
            {
                SendError(rid, ErrorCode.NotMember, "not a member of this conversation");
                return;
            }
        }

        Span<byte> clientId = stackalloc byte[ProtocolLimits.MaxClientMessageIdBytes];
        clientId.Clear();
        request.ClientMessageId.CopyTo(clientId);
        ClientMessageId id = ClientMessageId.FromBytes(clientId);
        ReadOnlySpan<byte> clientIdOnWire = id.IsEmpty ? [] : clientId;

        // The Deliver is encoded now, body included, with seq and timestamp patched in once committed.
        int maxBytes = ServerMessageWriter.MaxDeliverBytes(clientIdOnWire.Length, (int)request.Body.Length);
        OutboundFrame frame = OutboundFrame.Rent(maxBytes);
        frame.Advance(ServerMessageWriter.Deliver(frame.GetSpan(maxBytes), conversation, 0, UserId, 0, clientIdOnWire, request.Body));
        Submit(SequencerWork.RentSend(this, rid, conversation, UserId, peer, id, frame, (int)request.Body.Length));
    }

    private void CreateGroup(in ClientRequest request)
    {
        DistinctUsers(Members, Scratch, withoutCaller: true);
        if (Scratch.Count + 1 > Options.MaxGroupMembers)
        {
            SendError(request.RequestId, ErrorCode.GroupFull, "more members than the group limit (see Hello)");
            return;
        }
        if (!AllValidUsers(Scratch))
        {
            SendError(request.RequestId, ErrorCode.BadRequest, "member ids are positive integers");
            return;
        }
        Submit(new SequencerWork
        {
            Kind = WorkKind.CreateGroup, Origin = this, RequestId = request.RequestId, User = UserId,
            Conversation = NewGroupId(), Members = [.. Scratch],
        });
    }

    private void ChangeMembers(in ClientRequest request)
    {
        uint rid = request.RequestId;
        long conversation = request.Conversation;
        if (!CheckMember(rid, conversation))
        {
            return;
        }
        if (ConversationId.IsDirect(conversation))
        {
            SendError(rid, ErrorCode.NotAGroup, "a 1:1 conversation's members are fixed");
            return;
        }
        DistinctUsers(Members, Scratch, withoutCaller: false);
        if (Scratch.Count == 0 || !AllValidUsers(Scratch))
        {
            SendError(rid, ErrorCode.BadRequest, "members: a non-empty list of positive user ids");
            return;
        }
        bool add = request.Type == MessageType.AddMembers;
        if (add)
        {
            // Checked against committed membership: concurrent adds may together pass the limit by their size.
            ChatStore store = _node.Store.StoreOf(conversation);
            int newcomers = 0;
            foreach (long user in Scratch)
            {
                newcomers += store.IsMember(conversation, user) ? 0 : 1;
            }
            if (store.GetConversation(conversation).MemberCount + newcomers > Options.MaxGroupMembers)
            {
                SendError(rid, ErrorCode.GroupFull, "the group would exceed the member limit (see Hello)");
                return;
            }
        }
        Submit(new SequencerWork
        {
            Kind = add ? WorkKind.AddMembers : WorkKind.RemoveMembers, Origin = this, RequestId = rid, User = UserId,
            Conversation = conversation, Members = [.. Scratch],
        });
    }

    private void Leave(in ClientRequest request)
    {
        if (!CheckMember(request.RequestId, request.Conversation))
        {
            return;
        }
        if (ConversationId.IsDirect(request.Conversation))
        {
            SendError(request.RequestId, ErrorCode.NotAGroup, "a 1:1 conversation cannot be left");
        }
        else
        {
            Submit(new SequencerWork
            {
                Kind = WorkKind.Leave, Origin = this, RequestId = request.RequestId, User = UserId, Conversation = request.Conversation, Members = [UserId],
            });
        }
    }

    private void Read(in ClientRequest request)
    {
        if (request.Seq < 1)
        {
            SendError(request.RequestId, ErrorCode.BadRequest, "seq must be at least 1");
            return;
        }
        if (CheckMember(request.RequestId, request.Conversation))
        {
            Submit(new SequencerWork
            {
                Kind = WorkKind.Read, Origin = this, RequestId = request.RequestId, User = UserId, Conversation = request.Conversation, Seq = request.Seq,
            });
        }
    }

    private void Submit(SequencerWork work)
    {
        if (!_node.SequencerOf(work.Conversation).TrySubmit(work))
        {
            uint rid = work.RequestId;
            work.Frame?.Release();
            work.Return();
            SendError(rid, _node.IsStopping ? ErrorCode.Unavailable : ErrorCode.Busy, "the conversation's sequencer is saturated; retry with backoff");
        }
    }

    // ------------------------------------------------------------ events and reads (answered here)

    private void Typing(in ClientRequest request)
    {
        if (!CheckMember(request.RequestId, request.Conversation))
        {
            return;
        }
        OutboundFrame frame = OutboundFrame.Rent(32);
        MessagePackWriter w = frame.Writer();
        ServerMessageWriter.Typing(ref w, request.Conversation, UserId);
        w.Flush();
        frame.Seal();
        _node.Store.StoreOf(request.Conversation).GetMembers(request.Conversation, Scratch);
        foreach (long member in Scratch)
        {
            foreach (ChatSession session in _node.Registry.SessionsOf(member))
            {
                if (session != this)
                {
                    session.Enqueue(frame.AddReference());
                }
            }
        }
        frame.Release();
        SendOk(request.RequestId, 0);
    }

    private void Sync(in ClientRequest request)
    {
        if (!CheckPage(request))
        {
            return;
        }
        MessagePage page = RentPage();
        _node.Store.StoreOf(request.Conversation).ReadRange(request.Conversation, Math.Max(request.Seq, 0) + 1, PageLimit(request.Limit), page);
        SendPage(page, request.RequestId, request.Conversation, keepNewest: false);
    }

    private void History(in ClientRequest request)
    {
        if (!CheckPage(request))
        {
            return;
        }
        long before = request.Seq <= 0 ? long.MaxValue : request.Seq;
        MessagePage page = RentPage();
        _node.Store.StoreOf(request.Conversation).ReadHistory(request.Conversation, before, PageLimit(request.Limit), page);
        SendPage(page, request.RequestId, request.Conversation, keepNewest: true);
    }

    private bool CheckPage(in ClientRequest request)
    {
        if (request.Limit < 1)
        {
            SendError(request.RequestId, ErrorCode.BadRequest, "limit must be at least 1");
            return false;
        }
        return CheckMember(request.RequestId, request.Conversation);
    }

    private int PageLimit(int asked) => Math.Min(asked, Options.MaxPageMessages);

    /// <summary>
    /// Sends <paramref name="page"/> as a SyncResult (and returns the page to the pool), cut at <see cref="ChatOptions.MaxPageBytes"/> (always at least one
    /// message). What is left out sets has_more, and the cut keeps the page contiguous with what the client holds:
    /// a Sync page keeps its oldest messages (continue after the last), a History page its newest (continue before the first).
    /// </summary>
    private static MessagePage RentPage() => Pages.TryTake(out MessagePage? page) ? page : new MessagePage();

    private void SendPage(MessagePage page, uint rid, long conversation, bool keepNewest)
    {
        List<StoredMessage> messages = page.Messages;
        int count = 0, size = 0;
        for (int k = 0; k < messages.Count; k++)
        {
            int next = ServerMessageWriter.SyncMessageMaxSize(messages[keepNewest ? messages.Count - 1 - k : k].Body.Length);
            if (size + next > Options.MaxPageBytes && count > 0)
            {
                break;
            }
            size += next;
            count++;
        }
        int first = keepNewest ? messages.Count - count : 0;
        bool hasMore = page.HasMore || count < messages.Count;
        OutboundFrame frame = OutboundFrame.Rent(64 + size);
        MessagePackWriter w = frame.Writer();
        ServerMessageWriter.SyncResultHeader(ref w, rid, conversation, page.Head, page.EarliestAvailable, page.Truncated, hasMore, count);
        Span<byte> clientId = stackalloc byte[ProtocolLimits.MaxClientMessageIdBytes];
        for (int i = first; i < first + count; i++)
        {
            StoredMessage m = messages[i];
            m.ClientId.WriteTo(clientId);
            ServerMessageWriter.SyncMessage(ref w, m.Seq, m.Sender, m.Timestamp, m.ClientId.IsEmpty ? [] : clientId, m.Body.Span);
        }
        w.Flush();
        if (Pages.Count < MaxPooledPages && page.Capacity <= 1024 * 1024)
        {
            Pages.Add(page); // the bodies were copied into the frame; a page grown past 1 MiB is left to the GC
        }
        Enqueue(frame.Seal());
    }

    private void ListConversations(in ClientRequest request)
    {
        if (request.Limit < 1 || request.Cursor < 0)
        {
            SendError(request.RequestId, ErrorCode.BadRequest, "limit must be at least 1 and cursor at least 0");
            return;
        }
        int limit = Math.Min(request.Limit, Options.MaxListConversations);
        ShardedStore store = _node.Store;
        var found = new List<ConversationSummary>(Math.Min(limit, 64));
        long position = 0; // over the user's conversations of shard 0, then shard 1, ...
        long next = 0;
        for (int shard = 0; shard < store.Count && next == 0; shard++)
        {
            store[shard].GetConversationsOf(UserId, Scratch);
            foreach (long conversation in Scratch)
            {
                if (position++ < request.Cursor)
                {
                    continue;
                }
                if (found.Count == limit)
                {
                    next = position - 1;
                    break;
                }
                ConversationInfo info = store[shard].GetConversation(conversation);
                long joined = store[shard].GetJoinedAt(conversation, UserId) ?? 0;
                if (request.Since > 0 && info.LastTimestamp < request.Since && joined < request.Since)
                {
                    continue;
                }
                found.Add(new ConversationSummary(conversation, ConversationId.IsDirect(conversation), info.Head,
                    store[shard].GetReadPosition(UserId, conversation), info.EarliestAvailable, info.MemberCount, info.LastTimestamp));
            }
        }
        OutboundFrame frame = OutboundFrame.Rent(32 + found.Count * 64);
        MessagePackWriter w = frame.Writer();
        ServerMessageWriter.ConversationListHeader(ref w, request.RequestId, found.Count);
        foreach (ConversationSummary summary in found)
        {
            ServerMessageWriter.ConversationEntry(ref w, summary);
        }
        ServerMessageWriter.ConversationListEnd(ref w, next);
        w.Flush();
        Enqueue(frame.Seal());
    }

    private async ValueTask AckPendingAsync(uint rid, ReadOnlySequence<byte> cursor)
    {
        ShardedStore store = _node.Store;
        if (cursor.Length != store.Count * 8)
        {
            SendError(rid, ErrorCode.BadRequest, "cursor: send back the cursor of a Pending message unchanged");
            return;
        }
        Span<byte> positions = stackalloc byte[(int)cursor.Length];
        cursor.CopyTo(positions);
        var acks = new ValueTask<WriteResult>[store.Count];
        for (int shard = 0; shard < store.Count; shard++)
        {
            acks[shard] = store[shard].AckPendingAsync(UserId, BinaryPrimitives.ReadInt64BigEndian(positions[(shard * 8)..]));
        }
        foreach (ValueTask<WriteResult> ack in acks)
        {
            await ack.ConfigureAwait(false);
        }
        SendOk(rid, 0);
        SendPending(); // the next page, if any
    }

    private async ValueTask RefreshTokenAsync(uint rid, string token)
    {
        (Auth.AuthenticatedUser? user, string? error) = await _node.Tokens.ValidateAsync(token).ConfigureAwait(false);
        if (user is not { } valid || valid.UserId != UserId)
        {
            SendError(rid, ErrorCode.InvalidToken, error ?? "the token is for another user");
            return;
        }
        Volatile.Write(ref _tokenExpiresAtMs, valid.ExpiresAtMs);
        SendOk(rid, valid.ExpiresAtMs);
    }

    // ------------------------------------------------------------ presence

    /// <summary>
    /// PresenceQuery / PresenceSubscribe: the users the caller may see (Presence:Visibility) get their presence
    /// (and, subscribing, later changes); the others are listed as refused.
    /// </summary>
    private void QueryPresence(uint rid, bool subscribe)
    {
        Presence.PresenceOptions options = _node.PresenceOptions;
        if (Members.Count > options.MaxUsersPerRequest)
        {
            SendError(rid, ErrorCode.BadRequest, "too many users in one request (Presence:MaxUsersPerRequest)");
            return;
        }
        var allowed = new List<long>(Members.Count);
        var refused = new List<long>();
        List<(ChatStore Shard, long Group)>? groups = null; // the caller's groups, read once per request if needed
        foreach (long user in Members)
        {
            (user > 0 && !allowed.Contains(user) && CanSeePresenceOf(user, ref groups) ? allowed : refused).Add(user);
        }
        if (subscribe && _node.Presence.SubscriptionCountWith(this, allowed) > options.MaxSubscriptionsPerSession)
        {
            SendError(rid, ErrorCode.BadRequest, "over the subscription limit of this session (Presence:MaxSubscriptionsPerSession)");
            return;
        }
        var entries = new List<PresenceEntry>(allowed.Count);
        if (subscribe)
        {
            _node.Presence.Subscribe(this, allowed, entries);
        }
        else
        {
            _node.Presence.Query(allowed, entries);
        }
        OutboundFrame frame = OutboundFrame.Rent(16 + entries.Count * 24 + refused.Count * 9);
        MessagePackWriter w = frame.Writer();
        ServerMessageWriter.PresenceResult(ref w, rid, entries, refused);
        w.Flush();
        Enqueue(frame.Seal());
    }

    /// <summary>Presence privacy: the caller itself, anyone sharing a conversation with it, or everyone if so configured.</summary>
    private bool CanSeePresenceOf(long user, ref List<(ChatStore Shard, long Group)>? groups)
    {
        if (user == UserId || _node.PresenceOptions.Visibility == Presence.PresenceVisibility.Everyone)
        {
            return true;
        }
        long direct = DirectConversation.IdOf(UserId, user);
        ChatStore directStore = _node.Store.StoreOf(direct);
        if (directStore.IsMember(direct, UserId) && directStore.IsMember(direct, user))
        {
            return true;
        }
        if (groups is null)
        {
            groups = [];
            ShardedStore store = _node.Store;
            for (int shard = 0; shard < store.Count; shard++)
            {
                store[shard].GetConversationsOf(UserId, Scratch);
                foreach (long conversation in Scratch)
                {
                    if (!ConversationId.IsDirect(conversation))
                    {
                        groups.Add((store[shard], conversation));
                    }
                }
            }
        }
        foreach ((ChatStore shard, long group) in groups)
        {
            if (shard.IsMember(group, user))
            {
                return true;
            }
        }
        return false;
    }

    // ------------------------------------------------------------ helpers

    private bool CheckMember(uint rid, long conversation)
    {
        if (ConversationId.IsValid(conversation) && _node.Store.StoreOf(conversation).IsMember(conversation, UserId))
        {
            return true;
        }
        // The same answer for "no such conversation": ids cannot be probed.
        SendError(rid, ErrorCode.NotMember, "not a member of this conversation");
        return false;
    }

    /// <summary>The listed users without duplicates (and without the caller, if so asked), in their order.</summary>
    private void DistinctUsers(List<long> users, List<long> result, bool withoutCaller)
    {
        result.Clear();
        foreach (long user in users)
        {
            if (!(withoutCaller && user == UserId) && !result.Contains(user))
            {
                result.Add(user);
            }
        }
    }

    private static bool AllValidUsers(List<long> users)
    {
        foreach (long user in users)
        {
            if (user <= 0)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A random positive id with the direct-conversation bit clear; the store refuses it if taken.</summary>
    private static long NewGroupId()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        long id = BinaryPrimitives.ReadInt64LittleEndian(bytes) & (ConversationId.DirectFlag - 1);
        return id == 0 ? 1 : id;
    }
}
