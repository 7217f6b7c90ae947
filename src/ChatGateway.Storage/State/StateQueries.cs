namespace ChatGateway.Storage.State;

/// <summary>Point reads of the index, shared by the writer (its own session) and readers (rented sessions).</summary>
internal static class StateQueries
{
    public static ConversationState Conversation(StateSession session, long conversation)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return session.TryRead(StateKey.Of(key, KeyKind.Conversation, conversation), out ConversationState state)
            ? state
            : new ConversationState { EarliestSeq = 1 };
    }

    public static bool IsMember(StateSession session, long conversation, long user)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return session.TryRead(StateKey.Of(key, KeyKind.Member, conversation, user), out MemberEntry _);
    }

    public static bool TryGetMember(StateSession session, long conversation, long user, out long joinedAt)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        bool found = session.TryRead(StateKey.Of(key, KeyKind.Member, conversation, user), out MemberEntry entry);
        joinedAt = entry.JoinedAt;
        return found;
    }

    /// <summary>The highest seq <paramref name="user"/> marked read in <paramref name="conversation"/>; 0 when none.</summary>
    public static long ReadPosition(StateSession session, long user, long conversation)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return session.TryRead(StateKey.Of(key, KeyKind.ReadPosition, user, conversation), out LongValue seq) ? seq.Value : 0;
    }

    public static UserState User(StateSession session, long user)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return session.TryRead(StateKey.Of(key, KeyKind.User, user), out UserState state) ? state : default;
    }

    public static PendingHeader PendingHeader(StateSession session, long user)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return session.TryRead(StateKey.Of(key, KeyKind.PendingHeader, user), out PendingHeader header) ? header : default;
    }

    public static bool TryGetPendingEntry(StateSession session, long user, long position, out PendingEntry entry)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return session.TryRead(StateKey.Of(key, KeyKind.PendingEntry, user, position), out entry);
    }

    /// <summary>The queued entry of a conversation, if it is still in the queue.</summary>
    public static bool TryGetPendingEntryOf(StateSession session, long user, long conversation, out PendingEntry entry)
    {
        entry = default;
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return session.TryRead(StateKey.Of(key, KeyKind.PendingByConversation, user, conversation), out LongValue position)
               && position.Value >= PendingHeader(session, user).Head
               && TryGetPendingEntry(session, user, position.Value, out entry);
    }

    /// <summary>Appends the <paramref name="count"/> items of a dense list (members of a conversation, conversations of a user).</summary>
    public static void ReadList(StateSession session, KeyKind kind, long owner, long count, List<long> items)
    {
        for (long i = 0; i < count; i++)
        {
            items.Add(ListItem(session, kind, owner, i));
        }
    }

    public static long ListItem(StateSession session, KeyKind kind, long owner, long index)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        if (!session.TryRead(StateKey.Of(key, kind, owner, index), out LongValue value))
        {
            throw new StoreCorruptedException($"list {kind} of {owner} has no item {index}");
        }
        return value.Value;
    }

    /// <summary>Reads a message's header only (the body is not copied).</summary>
    public static bool TryGetMessageHeader(StateSession session, long conversation, long seq, out MessageHeader header)
    {
        header = default;
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        Span<byte> value = stackalloc byte[MessageHeader.Size];
        int length = session.Read(StateKey.Of(key, KeyKind.Message, conversation, seq), value);
        if (length < MessageHeader.Size)
        {
            return false;
        }
        header = System.Runtime.InteropServices.MemoryMarshal.Read<MessageHeader>(value);
        return true;
    }

    /// <summary>
    /// Reads the message block holding <paramref name="seq"/> into <paramref name="slots"/> (at least
    /// <see cref="MessageBlock.Seqs"/> long); returns how many slots it holds (0 when there is none).
    /// </summary>
    public static int ReadMessageBlock(StateSession session, long conversation, long seq, Span<MessageSlot> slots)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        Span<byte> bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(slots);
        int length = session.Read(StateKey.Of(key, KeyKind.MessageBlock, conversation, MessageBlock.BlockOf(seq)), bytes);
        if (length < 0)
        {
            return 0;
        }
        if (length % MessageBlock.SlotSize != 0 || length > MessageBlock.MaxBytes)
        {
            throw new StoreCorruptedException($"message block of {length} bytes (conversation {conversation}, seq {seq})");
        }
        return length / MessageBlock.SlotSize;
    }

    /// <summary>The slot of one message (format 4); false when the message is not indexed.</summary>
    public static bool TryGetMessageSlot(StateSession session, long conversation, long seq, out MessageSlot slot)
    {
        Span<MessageSlot> slots = stackalloc MessageSlot[MessageBlock.Seqs];
        int count = ReadMessageBlock(session, conversation, seq, slots);
        int index = MessageBlock.SlotOf(seq);
        slot = index < count ? slots[index] : default;
        return slot.Address != 0;
    }
}
