using MessagePack;

namespace ChatGateway.Protocol;

/// <summary>
/// Encodes server messages (docs/protocol.md, "Server messages") into a <see cref="MessagePackWriter"/>, which the
/// caller owns and flushes; the Ack, sent once per accepted message, straight into a span. Nothing here allocates.
/// </summary>
public static class ServerMessageWriter
{
    public static void Hello(ref MessagePackWriter w, in HelloFields hello)
    {
        w.WriteArrayHeader(10);
        w.Write((byte)MessageType.Hello);
        w.Write(hello.User);
        w.Write(hello.SessionId);
        w.Write(hello.HeartbeatIntervalMs);
        w.Write(hello.MaxBodyBytes);
        w.Write(hello.MaxGroupMembers);
        w.Write(hello.ServerTimeMs);
        w.Write(hello.TokenExpiresMs);
        w.Write(hello.MaxPageMessages);
        w.Write(hello.ShardCount);
    }

    /// <summary>The longest Ack <see cref="Ack"/> writes: array and type, a uint32 rid, three int64s and a boolean.</summary>
    public const int MaxAckBytes = 2 + 5 + 3 * MessagePackSpan.MaxIntegerBytes + 1;

    /// <summary>
    /// Writes an Ack into <paramref name="destination"/> (at least <see cref="MaxAckBytes"/>) and returns its length. Straight
    /// into a span, not through a <see cref="MessagePackWriter"/>: one Ack per message received (<see cref="MessagePackSpan"/>).
    /// </summary>
    public static int Ack(Span<byte> destination, uint rid, long conversation, long seq, long timestamp, bool duplicate)
    {
        destination[0] = 0x96; // fixarray of 6
        destination[1] = (byte)MessageType.Ack; // a positive fixint
        int at = 2;
        at += MessagePackSpan.WriteInteger(destination[at..], rid);
        at += MessagePackSpan.WriteInteger(destination[at..], conversation);
        at += MessagePackSpan.WriteInteger(destination[at..], seq);
        at += MessagePackSpan.WriteInteger(destination[at..], timestamp);
        at += MessagePackSpan.WriteBoolean(destination[at..], duplicate);
        return at;
    }

    /// <summary>Bytes a Deliver with this client message id and body takes at most (<see cref="Deliver(Span{byte}, long, long, long, long, ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>).</summary>
    public static int MaxDeliverBytes(int clientMessageIdLength, int bodyLength) =>
        2 + 4 * MessagePackSpan.MaxIntegerBytes + 2 * MessagePackSpan.MaxBinaryHeaderBytes + clientMessageIdLength + bodyLength;

    /// <summary>
    /// Writes a Deliver into <paramref name="destination"/> (at least <see cref="MaxDeliverBytes"/>) and returns its length.
    /// Seq and timestamp are written in the fixed 9-byte int64 form, so a Deliver can be encoded before the
    /// sequencer assigns them and patched in place after (<see cref="PatchDeliver"/>): the body is copied once,
    /// straight from the client's frame into the frame every recipient gets. Written straight into the span, as the
    /// Ack is, rather than through a <see cref="MessagePackWriter"/>: one per message received (DeliverCodecBenchmarks).
    /// </summary>
    public static int Deliver(Span<byte> destination, long conversation, long seq, long sender, long timestamp,
        scoped ReadOnlySpan<byte> clientMessageId, scoped ReadOnlySpan<byte> body)
    {
        int at = DeliverHead(destination, conversation, seq, sender, timestamp, clientMessageId);
        return at + MessagePackSpan.WriteBinary(destination[at..], body);
    }

    /// <inheritdoc cref="Deliver(Span{byte}, long, long, long, long, ReadOnlySpan{byte}, ReadOnlySpan{byte})"/>
    public static int Deliver(Span<byte> destination, long conversation, long seq, long sender, long timestamp,
        scoped ReadOnlySpan<byte> clientMessageId, scoped in System.Buffers.ReadOnlySequence<byte> body)
    {
        int at = DeliverHead(destination, conversation, seq, sender, timestamp, clientMessageId);
        int length = checked((int)body.Length);
        at += MessagePackSpan.WriteBinaryHeader(destination[at..], length);
        System.Buffers.BuffersExtensions.CopyTo(body, destination[at..]);
        return at + length;
    }

    /// <summary>Everything of a Deliver but its body (the last field); returns its length.</summary>
    private static int DeliverHead(Span<byte> destination, long conversation, long seq, long sender, long timestamp,
        scoped ReadOnlySpan<byte> clientMessageId)
    {
        destination[0] = 0x97; // fixarray of 7
        destination[1] = (byte)MessageType.Deliver; // a positive fixint
        int at = 2;
        at += MessagePackSpan.WriteInteger(destination[at..], conversation);
        at += MessagePackSpan.WriteInt64(destination[at..], seq);
        at += MessagePackSpan.WriteInteger(destination[at..], sender);
        at += MessagePackSpan.WriteInt64(destination[at..], timestamp);
        return at + MessagePackSpan.WriteBinary(destination[at..], clientMessageId);
    }

    /// <summary>Sets seq and timestamp of a Deliver payload written by <see cref="Deliver"/>.</summary>
    public static void PatchDeliver(Span<byte> payload, long seq, long timestamp)
    {
        int seqAt = 2 + IntegerLength(payload[2]);
        int timestampAt = seqAt + 9 + IntegerLength(payload[seqAt + 9]);
        if (payload[0] != 0x97 || payload[1] != (byte)MessageType.Deliver || payload[seqAt] != 0xd3 || payload[timestampAt] != 0xd3)
        {
            throw new ArgumentException("not a Deliver written by ServerMessageWriter.Deliver", nameof(payload));
        }
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(payload[(seqAt + 1)..], seq);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(payload[(timestampAt + 1)..], timestamp);
    }

    /// <summary>Bytes of a MessagePack integer from its first byte.</summary>
    private static int IntegerLength(byte first)
    {
        int length = MessagePackSpan.IntegerLength(first);
        return length > 0 ? length : throw new ArgumentException($"0x{first:x2} does not start an integer");
    }

    /// <summary>Starts a SyncResult; <paramref name="count"/> calls of <see cref="SyncMessage"/> must follow.</summary>
    public static void SyncResultHeader(ref MessagePackWriter w, uint rid, long conversation, long head, long earliest, bool truncated, bool hasMore, int count)
    {
        w.WriteArrayHeader(8);
        w.Write((byte)MessageType.SyncResult);
        w.Write(rid);
        w.Write(conversation);
        w.Write(head);
        w.Write(earliest);
        w.Write(truncated);
        w.Write(hasMore);
        w.WriteArrayHeader(count);
    }

    public static void SyncMessage(ref MessagePackWriter w, long seq, long sender, long timestamp, scoped ReadOnlySpan<byte> clientMessageId, scoped ReadOnlySpan<byte> body)
    {
        w.WriteArrayHeader(5);
        w.Write(seq);
        w.Write(sender);
        w.Write(timestamp);
        WriteBin(ref w, clientMessageId);
        WriteBin(ref w, body);
    }

    /// <summary>Bytes <see cref="SyncMessage"/> writes at most for a body of <paramref name="bodyLength"/> bytes.</summary>
    public static int SyncMessageMaxSize(int bodyLength) => 1 + 3 * 9 + 2 + ProtocolLimits.MaxClientMessageIdBytes + 5 + bodyLength;

    /// <summary>Starts a ConversationList; <paramref name="count"/> calls of <see cref="ConversationEntry"/> must follow, then <see cref="ConversationListEnd"/>.</summary>
    public static void ConversationListHeader(ref MessagePackWriter w, uint rid, int count)
    {
        w.WriteArrayHeader(4);
        w.Write((byte)MessageType.ConversationList);
        w.Write(rid);
        w.WriteArrayHeader(count);
    }

    public static void ConversationEntry(ref MessagePackWriter w, in ConversationSummary c)
    {
        w.WriteArrayHeader(7);
        w.Write(c.Conversation);
        w.Write(c.IsDirect ? (byte)1 : (byte)2);
        w.Write(c.Head);
        w.Write(c.ReadSeq);
        w.Write(c.Earliest);
        w.Write(c.MemberCount);
        w.Write(c.LastTimestamp);
    }

    public static void ConversationListEnd(ref MessagePackWriter w, long nextCursor) => w.Write(nextCursor);

    /// <summary>Starts a Pending message; <paramref name="count"/> calls of <see cref="PendingEntry"/> must follow, then <see cref="PendingEnd"/>.</summary>
    public static void PendingHeader(ref MessagePackWriter w, int count)
    {
        w.WriteArrayHeader(5);
        w.Write((byte)MessageType.Pending);
        w.WriteArrayHeader(count);
    }

    public static void PendingEntry(ref MessagePackWriter w, long conversation, long fromSeq, long toSeq, bool expired)
    {
        w.WriteArrayHeader(4);
        w.Write(conversation);
        w.Write(fromSeq);
        w.Write(toSeq);
        w.Write(expired);
    }

    public static void PendingEnd(ref MessagePackWriter w, bool truncated, scoped ReadOnlySpan<byte> cursor, bool hasMore)
    {
        w.Write(truncated);
        WriteBin(ref w, cursor);
        w.Write(hasMore);
    }

    public static void Receipt(ref MessagePackWriter w, long conversation, long user, long seq)
    {
        w.WriteArrayHeader(4);
        w.Write((byte)MessageType.Receipt);
        w.Write(conversation);
        w.Write(user);
        w.Write(seq);
    }

    public static void Typing(ref MessagePackWriter w, long conversation, long user)
    {
        w.WriteArrayHeader(3);
        w.Write((byte)MessageType.TypingEvent);
        w.Write(conversation);
        w.Write(user);
    }

    public static void Membership(ref MessagePackWriter w, long conversation, MembershipChange change, long actor, IReadOnlyList<long> users)
    {
        w.WriteArrayHeader(5);
        w.Write((byte)MessageType.MembershipEvent);
        w.Write(conversation);
        w.Write((byte)change);
        w.Write(actor);
        w.WriteArrayHeader(users.Count);
        for (int i = 0; i < users.Count; i++)
        {
            w.Write(users[i]);
        }
    }

    public static void Error(ref MessagePackWriter w, uint rid, string code, string message)
    {
        w.WriteArrayHeader(4);
        w.Write((byte)MessageType.Error);
        w.Write(rid);
        w.Write(code);
        w.Write(message);
    }

    /// <summary>Answer to PresenceQuery / PresenceSubscribe: the users' presence, and those the caller may not see.</summary>
    public static void PresenceResult(ref MessagePackWriter w, uint rid, IReadOnlyList<PresenceEntry> entries, IReadOnlyList<long> refused)
    {
        w.WriteArrayHeader(4);
        w.Write((byte)MessageType.PresenceResult);
        w.Write(rid);
        PresenceEntries(ref w, entries);
        w.WriteArrayHeader(refused.Count);
        for (int i = 0; i < refused.Count; i++)
        {
            w.Write(refused[i]);
        }
    }

    /// <summary>Changes of subscribed users since the last event (one entry per user, the latest).</summary>
    public static void PresenceEvent(ref MessagePackWriter w, IReadOnlyList<PresenceEntry> changes)
    {
        w.WriteArrayHeader(2);
        w.Write((byte)MessageType.PresenceEvent);
        PresenceEntries(ref w, changes);
    }

    private static void PresenceEntries(ref MessagePackWriter w, IReadOnlyList<PresenceEntry> entries)
    {
        w.WriteArrayHeader(entries.Count);
        for (int i = 0; i < entries.Count; i++)
        {
            w.WriteArrayHeader(3);
            w.Write(entries[i].User);
            w.Write((byte)entries[i].Status);
            w.Write(entries[i].LastSeen);
        }
    }

    public static void Ok(ref MessagePackWriter w, uint rid, long value)
    {
        w.WriteArrayHeader(3);
        w.Write((byte)MessageType.Ok);
        w.Write(rid);
        w.Write(value);
    }

    /// <summary>A bin value. Copies through GetSpan: MessagePackWriter.Write(span) predates C# 11 ref safety and makes every caller's span look captured.</summary>
    private static void WriteBin(ref MessagePackWriter w, scoped ReadOnlySpan<byte> value)
    {
        w.WriteBinHeader(value.Length);
        value.CopyTo(w.GetSpan(value.Length));
        w.Advance(value.Length);
    }
}
