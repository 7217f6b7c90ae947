using MessagePack;

namespace ChatGateway.Protocol;

/// <summary>
/// Encodes server messages (docs/protocol.md, "Server messages") into a <see cref="MessagePackWriter"/>.
/// The caller owns the writer and flushes it; nothing here allocates.
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

    public static void Ack(ref MessagePackWriter w, uint rid, long conversation, long seq, long timestamp, bool duplicate)
    {
        w.WriteArrayHeader(6);
        w.Write((byte)MessageType.Ack);
        w.Write(rid);
        w.Write(conversation);
        w.Write(seq);
        w.Write(timestamp);
        w.Write(duplicate);
    }

    public static void Deliver(ref MessagePackWriter w, long conversation, long seq, long sender, long timestamp,
        ReadOnlySpan<byte> clientMessageId, ReadOnlySpan<byte> body)
    {
        w.WriteArrayHeader(7);
        w.Write((byte)MessageType.Deliver);
        w.Write(conversation);
        w.Write(seq);
        w.Write(sender);
        w.Write(timestamp);
        w.Write(clientMessageId);
        w.Write(body);
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

    public static void SyncMessage(ref MessagePackWriter w, long seq, long sender, long timestamp, ReadOnlySpan<byte> clientMessageId, ReadOnlySpan<byte> body)
    {
        w.WriteArrayHeader(5);
        w.Write(seq);
        w.Write(sender);
        w.Write(timestamp);
        w.Write(clientMessageId);
        w.Write(body);
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

    public static void PendingEnd(ref MessagePackWriter w, bool truncated, ReadOnlySpan<byte> cursor, bool hasMore)
    {
        w.Write(truncated);
        w.Write(cursor);
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

    public static void Ok(ref MessagePackWriter w, uint rid, long value)
    {
        w.WriteArrayHeader(3);
        w.Write((byte)MessageType.Ok);
        w.Write(rid);
        w.Write(value);
    }
}
