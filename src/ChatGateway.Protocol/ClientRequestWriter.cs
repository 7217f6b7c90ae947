using System.Buffers;
using MessagePack;

namespace ChatGateway.Protocol;

/// <summary>Encodes client requests (used by the .NET client and the tests; other languages follow docs/protocol.md).</summary>
public static class ClientRequestWriter
{
    public static void Send(IBufferWriter<byte> output, uint rid, long conversation, long toUser, ReadOnlySpan<byte> clientMessageId, ReadOnlySpan<byte> body)
    {
        var w = Begin(output, MessageType.Send, rid, 4);
        w.Write(conversation);
        w.Write(toUser);
        w.Write(clientMessageId);
        w.Write(body);
        w.Flush();
    }

    public static void Sync(IBufferWriter<byte> output, uint rid, long conversation, long afterSeq, int limit) =>
        ThreeIntegers(output, MessageType.Sync, rid, conversation, afterSeq, limit);

    public static void History(IBufferWriter<byte> output, uint rid, long conversation, long beforeSeq, int limit) =>
        ThreeIntegers(output, MessageType.History, rid, conversation, beforeSeq, limit);

    public static void ListConversations(IBufferWriter<byte> output, uint rid, long changedSince, long cursor, int limit) =>
        ThreeIntegers(output, MessageType.ListConversations, rid, changedSince, cursor, limit);

    public static void CreateGroup(IBufferWriter<byte> output, uint rid, IReadOnlyList<long> members)
    {
        var w = Begin(output, MessageType.CreateGroup, rid, 1);
        WriteArray(ref w, members);
        w.Flush();
    }

    public static void AddMembers(IBufferWriter<byte> output, uint rid, long conversation, IReadOnlyList<long> members) =>
        Membership(output, MessageType.AddMembers, rid, conversation, members);

    public static void RemoveMembers(IBufferWriter<byte> output, uint rid, long conversation, IReadOnlyList<long> members) =>
        Membership(output, MessageType.RemoveMembers, rid, conversation, members);

    public static void Leave(IBufferWriter<byte> output, uint rid, long conversation) => OneInteger(output, MessageType.Leave, rid, conversation);

    public static void Typing(IBufferWriter<byte> output, uint rid, long conversation) => OneInteger(output, MessageType.Typing, rid, conversation);

    public static void Read(IBufferWriter<byte> output, uint rid, long conversation, long seq)
    {
        var w = Begin(output, MessageType.Read, rid, 2);
        w.Write(conversation);
        w.Write(seq);
        w.Flush();
    }

    public static void Heartbeat(IBufferWriter<byte> output, uint rid)
    {
        var w = Begin(output, MessageType.Heartbeat, rid, 0);
        w.Flush();
    }

    public static void RefreshToken(IBufferWriter<byte> output, uint rid, string token)
    {
        var w = Begin(output, MessageType.RefreshToken, rid, 1);
        w.Write(token);
        w.Flush();
    }

    public static void PresenceQuery(IBufferWriter<byte> output, uint rid, IReadOnlyList<long> users) => Users(output, MessageType.PresenceQuery, rid, users);

    public static void PresenceSubscribe(IBufferWriter<byte> output, uint rid, IReadOnlyList<long> users) => Users(output, MessageType.PresenceSubscribe, rid, users);

    public static void PresenceUnsubscribe(IBufferWriter<byte> output, uint rid, IReadOnlyList<long> users) => Users(output, MessageType.PresenceUnsubscribe, rid, users);

    public static void SetStatus(IBufferWriter<byte> output, uint rid, DeclaredStatus status) => OneInteger(output, MessageType.SetStatus, rid, (long)status);

    private static void Users(IBufferWriter<byte> output, MessageType type, uint rid, IReadOnlyList<long> users)
    {
        var w = Begin(output, type, rid, 1);
        WriteArray(ref w, users);
        w.Flush();
    }

    public static void AckPending(IBufferWriter<byte> output, uint rid, ReadOnlySpan<byte> cursor)
    {
        var w = Begin(output, MessageType.AckPending, rid, 1);
        w.Write(cursor);
        w.Flush();
    }

    private static MessagePackWriter Begin(IBufferWriter<byte> output, MessageType type, uint rid, int fields)
    {
        var w = new MessagePackWriter(output);
        w.WriteArrayHeader(2 + fields);
        w.Write((byte)type);
        w.Write(rid);
        return w;
    }

    private static void OneInteger(IBufferWriter<byte> output, MessageType type, uint rid, long value)
    {
        var w = Begin(output, type, rid, 1);
        w.Write(value);
        w.Flush();
    }

    private static void ThreeIntegers(IBufferWriter<byte> output, MessageType type, uint rid, long a, long b, int c)
    {
        var w = Begin(output, type, rid, 3);
        w.Write(a);
        w.Write(b);
        w.Write(c);
        w.Flush();
    }

    private static void Membership(IBufferWriter<byte> output, MessageType type, uint rid, long conversation, IReadOnlyList<long> members)
    {
        var w = Begin(output, type, rid, 2);
        w.Write(conversation);
        WriteArray(ref w, members);
        w.Flush();
    }

    private static void WriteArray(ref MessagePackWriter w, IReadOnlyList<long> items)
    {
        w.WriteArrayHeader(items.Count);
        for (int i = 0; i < items.Count; i++)
        {
            w.Write(items[i]);
        }
    }
}
