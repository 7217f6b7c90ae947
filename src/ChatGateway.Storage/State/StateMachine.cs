using ChatGateway.Storage.Journal;

namespace ChatGateway.Storage.State;

/// <summary>
/// Applies journal records to the index. The index is a pure function of the journal: the writer applies
/// each record right after appending it, and recovery applies the records after the last checkpoint with
/// this same code. Records carry every decision already taken (seq, deletions, depth limits), so
/// applying never consults configuration or the clock.
/// <para>
/// Conversation records are the exception to "apply at once": they change with every message, so the
/// machine keeps them in <see cref="_conversations"/> and writes each changed one once, in
/// <see cref="WriteChanges"/> after the group commit (the writer) or <see cref="FlushConversations"/> (recovery).
/// That saves two index operations per message and is what keeps readers on committed data: messages of an
/// uncommitted batch are in the index, but no reader reads past the committed head. Bound: the cache is cleared
/// after a flush once it holds more than <see cref="CacheLimit"/> conversations.
/// </para>
/// <para>
/// Format 4's message slots and dedupe claims are gathered per block and written at the end of a batch, or with the
/// conversation records in recovery (<see cref="FlushGatheredWrites"/>, <see cref="MessageSlotRuns"/>, <see cref="DedupeClaimRuns"/>).
/// </para>
/// Used by one thread at a time (the writer, or recovery before the writer starts).
/// </summary>
/// <param name="messageBlocks">
/// Format 4: messages are indexed by <see cref="MessageBlock"/>s of journal addresses and client ids by
/// <see cref="DedupeBlock"/>s; formats 2 and 3 keep a record per message with its body, and one per client id.
/// </param>
/// <param name="prefetch">A second session, used only to prefetch (<see cref="IsCached"/> and the methods after it).</param>
internal sealed class StateMachine(StateSession session, StateSession prefetch, int maxBodyBytes, bool messageBlocks) : IDisposable
{
    public const int CacheLimit = 65_536;

    private readonly byte[] _messageValue = messageBlocks ? [] : new byte[MessageHeader.Size + maxBodyBytes];
    private readonly Dictionary<long, ConversationState> _conversations = [];
    private readonly HashSet<long> _dirty = [];
    private readonly MessageSlotRuns? _slotRuns = messageBlocks ? new MessageSlotRuns(session) : null;
    private readonly DedupeClaimRuns? _claimRuns = messageBlocks ? new DedupeClaimRuns(session) : null;

    /// <summary>Bound of <see cref="IsMember"/>'s cache: past it the cache is emptied and refills from the index.</summary>
    public const int MemberCacheLimit = 262_144;

    // (conversation, user) pairs known to be members. Every append checks membership, and message traffic soon
    // pushes member records out of the index's memory: without this, each check is a disk read. Exact, because
    // the machine applies every membership change (it adds on MemberAdded, removes on MemberRemoved).
    private readonly HashSet<(long Conversation, long User)> _knownMembers = [];

    /// <summary>Whether <paramref name="user"/> is a member, including changes not yet committed.</summary>
    public bool IsMember(long conversation, long user)
    {
        if (_knownMembers.Contains((conversation, user)))
        {
            return true;
        }
        if (!StateQueries.IsMember(session, conversation, user))
        {
            return false;
        }
        RememberMember(conversation, user);
        return true;
    }

    private void RememberMember(long conversation, long user)
    {
        if (_knownMembers.Count >= MemberCacheLimit)
        {
            _knownMembers.Clear();
        }
        _knownMembers.Add((conversation, user));
    }

    // ---- prefetching (StoreWriter.Prefetch): records a batch will need, read from disk together, not one by one.

    /// <summary>Whether the conversation's working state is in memory: then so, very likely, is everything its next message touches.</summary>
    public bool IsCached(long conversation) => _conversations.ContainsKey(conversation);

    public void PrefetchConversation(long conversation)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        prefetch.Prefetch(StateKey.Of(key, KeyKind.Conversation, conversation));
    }

    public void PrefetchMembership(long conversation, long user)
    {
        if (!_knownMembers.Contains((conversation, user)))
        {
            Span<byte> key = stackalloc byte[StateKey.MaxLength];
            prefetch.Prefetch(StateKey.Of(key, KeyKind.Member, conversation, user));
        }
    }

    /// <summary>Format 4's dedupe block of the id (format 3's per-id keys are new for each message: nothing to fetch).</summary>
    public void PrefetchDedupe(long sender, ClientMessageId clientId)
    {
        if (messageBlocks)
        {
            Span<byte> key = stackalloc byte[StateKey.MaxLength];
            prefetch.Prefetch(StateKey.Of(key, KeyKind.DedupeBlock, sender, DedupeBlock.BlockOf(clientId)));
        }
    }

    /// <summary>Format 4: the block the conversation's next seq goes into (its state must be fetched first).</summary>
    public void PrefetchNextMessageBlock(long conversation)
    {
        if (messageBlocks)
        {
            Span<byte> key = stackalloc byte[StateKey.MaxLength];
            prefetch.Prefetch(StateKey.Of(key, KeyKind.MessageBlock, conversation, MessageBlock.BlockOf(GetConversation(conversation).Head + 1)));
        }
    }

    /// <summary>Waits for the prefetches started; false when all were in memory.</summary>
    public bool CompletePrefetches() => prefetch.CompletePrefetches();

    /// <summary>Closes the prefetch session (the writer's own session is the store's to close).</summary>
    public void Dispose() => prefetch.Dispose();

    /// <summary>Holds the index's epoch across the operations of a batch or a stretch of replay (<see cref="StateSession.HoldEpoch"/>).</summary>
    public StateSession.EpochScope HoldEpoch() => session.HoldEpoch();

    /// <summary>The working state of a conversation, including changes not yet committed.</summary>
    public ConversationState GetConversation(long conversation)
    {
        if (!_conversations.TryGetValue(conversation, out ConversationState state))
        {
            state = StateQueries.Conversation(session, conversation);
            _conversations[conversation] = state;
        }
        return state;
    }

    private void SetConversation(long conversation, in ConversationState state)
    {
        _conversations[conversation] = state;
        _dirty.Add(conversation);
    }

    /// <summary>
    /// Writes the message slots and dedupe claims gathered since the last call to the index (<see cref="MessageSlotRuns"/>,
    /// <see cref="DedupeClaimRuns"/>): before the heads that cover them are published, and before a checkpoint.
    /// </summary>
    public void FlushGatheredWrites()
    {
        _slotRuns?.Flush();
        _claimRuns?.Flush();
    }

    /// <summary>
    /// Writes the gathered writes and every changed conversation record to the index: only when everything applied
    /// is committed (recovery).
    /// </summary>
    public void FlushConversations()
    {
        FlushGatheredWrites();
        var changed = new List<KeyValuePair<long, ConversationState>>();
        TakeChanges(changed);
        WriteChanges(changed, inFlight: null);
    }

    /// <summary>Moves the conversations changed since the last call, as they are now, into <paramref name="changes"/>.</summary>
    public void TakeChanges(List<KeyValuePair<long, ConversationState>> changes)
    {
        foreach (long conversation in _dirty)
        {
            changes.Add(new(conversation, _conversations[conversation]));
        }
        _dirty.Clear();
    }

    /// <summary>
    /// Writes conversation records taken by <see cref="TakeChanges"/> once the batch they belong to is committed.
    /// Keeps the cache bounded: past <see cref="CacheLimit"/> it is emptied, except for what a batch still in
    /// flight changed (the index does not have that yet).
    /// </summary>
    public void WriteChanges(List<KeyValuePair<long, ConversationState>> changes, List<KeyValuePair<long, ConversationState>>? inFlight)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        foreach ((long conversation, ConversationState state) in changes)
        {
            session.Upsert(StateKey.Of(key, KeyKind.Conversation, conversation), state);
        }
        if (_conversations.Count > CacheLimit)
        {
            var keep = new Dictionary<long, ConversationState>();
            foreach (long conversation in _dirty)
            {
                keep[conversation] = _conversations[conversation];
            }
            foreach ((long conversation, _) in inFlight ?? [])
            {
                keep[conversation] = _conversations[conversation];
            }
            _conversations.Clear();
            foreach ((long conversation, ConversationState state) in keep)
            {
                _conversations[conversation] = state;
            }
        }
    }

    /// <summary>
    /// Records that <paramref name="sender"/>'s <paramref name="clientId"/> is <paramref name="entry"/>, unless an
    /// entry from at or after <paramref name="freshSince"/> is already there: then returns false and that entry.
    /// The writer claims before it appends the message and then applies the message with dedupeClaimed, so a
    /// message costs at most one index operation for its dedupe entry instead of a read and a write; in format 4,
    /// usually a share of one per block and batch (<see cref="DedupeClaimRuns"/>).
    /// </summary>
    public bool TryClaimDedupe(long sender, ClientMessageId clientId, in DedupeEntry entry, long freshSince, out DedupeEntry original)
    {
        if (_claimRuns is not null)
        {
            return _claimRuns.TryClaim(sender, clientId, entry, freshSince, out original);
        }
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return session.ClaimDedupe(StateKey.Of(key, KeyKind.Dedupe, sender, clientId), entry, freshSince, out original);
    }

    /// <param name="record">The record, as journaled.</param>
    /// <param name="address">Where the journal holds it.</param>
    /// <param name="dedupeClaimed">A message whose dedupe entry <see cref="TryClaimDedupe"/> already wrote (the writer); recovery passes false.</param>
    public void Apply(scoped in JournalRecord record, long address, bool dedupeClaimed = false)
    {
        switch (record.Kind)
        {
            case RecordKind.MessageAppended:
                ApplyMessage(record, address, dedupeClaimed);
                break;
            case RecordKind.MemberAdded:
                ApplyMemberAdded(record.Conversation, record.User, record.Timestamp);
                break;
            case RecordKind.MemberRemoved:
                ApplyMemberRemoved(record.Conversation, record.User);
                break;
            case RecordKind.PendingEnqueued:
                ApplyPendingEnqueued(record.User, record.Conversation, record.Seq, record.Timestamp, record.Aux);
                break;
            case RecordKind.PendingAcked:
                ApplyPendingAcked(record.User, record.Aux);
                break;
            case RecordKind.ReadMarked:
                ApplyReadMarked(record.User, record.Conversation, record.Seq);
                break;
            default:
                throw new StoreCorruptedException($"unknown journal record kind {record.Kind}");
        }
    }

    private void ApplyMessage(scoped in JournalRecord record, long address, bool dedupeClaimed)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        if (messageBlocks)
        {
            _slotRuns!.Add(record.Conversation, record.Seq, new MessageSlot { Address = address, Timestamp = record.Timestamp });
        }
        else
        {
            var header = new MessageHeader
            {
                Sender = record.User,
                Timestamp = record.Timestamp,
                ClientIdHigh = record.ClientId.High,
                ClientIdLow = record.ClientId.Low,
            };
            Span<byte> value = _messageValue.AsSpan(0, MessageHeader.Size + record.Body.Length);
            System.Runtime.InteropServices.MemoryMarshal.Write(value, in header);
            record.Body.CopyTo(value[MessageHeader.Size..]);
            session.Upsert(StateKey.Of(key, KeyKind.Message, record.Conversation, record.Seq), value);
        }

        if (!record.ClientId.IsEmpty && !dedupeClaimed)
        {
            var entry = new DedupeEntry { Conversation = record.Conversation, Seq = record.Seq, Timestamp = record.Timestamp };
            if (messageBlocks)
            {
                // Replay: the journaled message wins over whatever entry the id had (nothing is fresh since the end of time).
                TryClaimDedupe(record.User, record.ClientId, entry, freshSince: long.MaxValue, out _);
            }
            else
            {
                session.Upsert(StateKey.Of(key, KeyKind.Dedupe, record.User, record.ClientId), entry);
            }
        }

        ConversationState state = GetConversation(record.Conversation);
        state.Head = Math.Max(state.Head, record.Seq);
        state.LastTimestamp = Math.Max(state.LastTimestamp, record.Timestamp);
        if (record.Aux > 0)
        {
            // Count retention: the writer decided which seq falls out of the window. Readers never go below
            // EarliestSeq; a block goes once its last seq has (its journal records go with age retention). Its slots
            // are in the index by then: a run is written as soon as its conversation's seqs leave its block.
            if (!messageBlocks)
            {
                session.Delete(StateKey.Of(key, KeyKind.Message, record.Conversation, record.Aux));
            }
            else if (MessageBlock.IsLastOfBlock(record.Aux))
            {
                session.Delete(StateKey.Of(key, KeyKind.MessageBlock, record.Conversation, MessageBlock.BlockOf(record.Aux)));
            }
            state.EarliestSeq = Math.Max(state.EarliestSeq, record.Aux + 1);
        }
        SetConversation(record.Conversation, state);
    }

    private void ApplyMemberAdded(long conversation, long user, long timestamp)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        if (session.TryRead(StateKey.Of(key, KeyKind.Member, conversation, user), out MemberEntry _))
        {
            return; // already a member: replaying an add is harmless
        }
        ConversationState conv = GetConversation(conversation);
        long index = conv.MemberCount++;
        session.Upsert(StateKey.Of(key, KeyKind.Member, conversation, user), new MemberEntry { Index = index, JoinedAt = timestamp });
        session.Upsert(StateKey.Of(key, KeyKind.MemberAt, conversation, index), new LongValue { Value = user });
        SetConversation(conversation, conv);

        RememberMember(conversation, user);

        UserState userState = StateQueries.User(session, user);
        long position = userState.ConversationCount++;
        session.Upsert(StateKey.Of(key, KeyKind.UserConversation, user, conversation), new LongValue { Value = position });
        session.Upsert(StateKey.Of(key, KeyKind.UserConversationAt, user, position), new LongValue { Value = conversation });
        session.Upsert(StateKey.Of(key, KeyKind.User, user), userState);
    }

    private void ApplyMemberRemoved(long conversation, long user)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        if (!session.TryRead(StateKey.Of(key, KeyKind.Member, conversation, user), out MemberEntry member))
        {
            return;
        }
        _knownMembers.Remove((conversation, user));
        ConversationState conv = GetConversation(conversation);
        RemoveFromList(KeyKind.MemberAt, conversation, member.Index, --conv.MemberCount,
            movedUser => session.Upsert(StateKey.Of(stackalloc byte[StateKey.MaxLength], KeyKind.Member, conversation, movedUser),
                new MemberEntry { Index = member.Index, JoinedAt = JoinedAt(conversation, movedUser) }));
        session.Delete(StateKey.Of(key, KeyKind.Member, conversation, user));
        SetConversation(conversation, conv);

        UserState userState = StateQueries.User(session, user);
        if (session.TryRead(StateKey.Of(key, KeyKind.UserConversation, user, conversation), out LongValue position))
        {
            RemoveFromList(KeyKind.UserConversationAt, user, position.Value, --userState.ConversationCount,
                movedConversation => session.Upsert(StateKey.Of(stackalloc byte[StateKey.MaxLength], KeyKind.UserConversation, user, movedConversation),
                    new LongValue { Value = position.Value }));
            session.Delete(StateKey.Of(key, KeyKind.UserConversation, user, conversation));
            session.Upsert(StateKey.Of(key, KeyKind.User, user), userState);
        }
    }

    /// <summary>Removes slot <paramref name="index"/> of a dense list by moving its last element into it.</summary>
    private void RemoveFromList(KeyKind kind, long owner, long index, long last, Action<long> onMoved)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        if (index != last && session.TryRead(StateKey.Of(key, kind, owner, last), out LongValue moved))
        {
            session.Upsert(StateKey.Of(key, kind, owner, index), moved);
            onMoved(moved.Value);
        }
        session.Delete(StateKey.Of(key, kind, owner, last));
    }

    private long JoinedAt(long conversation, long user)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return session.TryRead(StateKey.Of(key, KeyKind.Member, conversation, user), out MemberEntry entry) ? entry.JoinedAt : 0;
    }

    /// <summary>
    /// One entry per conversation: a conversation already queued has its range extended in place, so the
    /// queue costs O(conversations with unread messages) per user, not O(messages). A new conversation on a
    /// full queue drops the oldest entry and counts it in Dropped.
    /// </summary>
    private void ApplyPendingEnqueued(long user, long conversation, long seq, long timestamp, long depth)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        PendingHeader header = StateQueries.PendingHeader(session, user);
        if (session.TryRead(StateKey.Of(key, KeyKind.PendingByConversation, user, conversation), out LongValue position)
            && position.Value >= header.Head
            && session.TryRead(StateKey.Of(key, KeyKind.PendingEntry, user, position.Value), out PendingEntry existing))
        {
            existing.ToSeq = Math.Max(existing.ToSeq, seq);
            existing.FromSeq = Math.Min(existing.FromSeq, seq);
            existing.LastAt = Math.Max(existing.LastAt, timestamp);
            session.Upsert(StateKey.Of(key, KeyKind.PendingEntry, user, position.Value), existing);
            return;
        }

        if (header.Tail - header.Head >= depth)
        {
            DeletePendingEntry(user, header.Head);
            header.Head++;
            header.Dropped++;
            header.LastDropAt = timestamp;
        }
        long tail = header.Tail++;
        session.Upsert(StateKey.Of(key, KeyKind.PendingEntry, user, tail),
            new PendingEntry { Conversation = conversation, FromSeq = seq, ToSeq = seq, LastAt = timestamp });
        session.Upsert(StateKey.Of(key, KeyKind.PendingByConversation, user, conversation), new LongValue { Value = tail });
        session.Upsert(StateKey.Of(key, KeyKind.PendingHeader, user), header);
    }

    private void ApplyPendingAcked(long user, long upTo)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        PendingHeader header = StateQueries.PendingHeader(session, user);
        upTo = Math.Clamp(upTo, header.Head, header.Tail);
        for (long position = header.Head; position < upTo; position++)
        {
            DeletePendingEntry(user, position);
        }
        header.Head = upTo;
        header.Dropped = 0; // the client has been told about the truncation and acknowledged past it
        session.Upsert(StateKey.Of(key, KeyKind.PendingHeader, user), header);
    }

    /// <summary>Raises the ToSeq/LastAt hints of a queued entry in the index only (see the writer's EnqueuePending).</summary>
    public void ExtendPending(long user, long conversation, long seq, long timestamp)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        if (session.TryRead(StateKey.Of(key, KeyKind.PendingByConversation, user, conversation), out LongValue position)
            && session.TryRead(StateKey.Of(key, KeyKind.PendingEntry, user, position.Value), out PendingEntry entry))
        {
            entry.ToSeq = Math.Max(entry.ToSeq, seq);
            entry.LastAt = Math.Max(entry.LastAt, timestamp);
            session.Upsert(StateKey.Of(key, KeyKind.PendingEntry, user, position.Value), entry);
        }
    }

    private void ApplyReadMarked(long user, long conversation, long seq)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        session.Upsert(StateKey.Of(key, KeyKind.ReadPosition, user, conversation), new LongValue { Value = seq });
    }

    private void DeletePendingEntry(long user, long position)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        if (session.TryRead(StateKey.Of(key, KeyKind.PendingEntry, user, position), out PendingEntry entry))
        {
            ReadOnlySpan<byte> byConversation = StateKey.Of(key, KeyKind.PendingByConversation, user, entry.Conversation);
            if (session.TryRead(byConversation, out LongValue current) && current.Value == position)
            {
                session.Delete(byConversation);
            }
            session.Delete(StateKey.Of(key, KeyKind.PendingEntry, user, position));
        }
    }
}
