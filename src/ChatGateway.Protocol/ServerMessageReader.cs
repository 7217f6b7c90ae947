using System.Buffers;
using System.Buffers.Binary;
using MessagePack;
using static ChatGateway.Protocol.MessagePackFields;

namespace ChatGateway.Protocol;

/// <summary>The fields of a Deliver, as slices of the frame: decoding them allocates nothing.</summary>
public struct DeliverFields
{
    public long Conversation;
    public long Seq;
    public long Sender;
    public long Timestamp;
    public ReadOnlySequence<byte> ClientMessageId;
    public ReadOnlySequence<byte> Body;
}

/// <summary>Decodes server messages for clients. Unknown trailing fields are skipped; unknown types read as null.</summary>
public static class ServerMessageReader
{
    /// <summary>Decodes a Deliver whose envelope (type and field count) has been read, without allocating.</summary>
    public static void ReadDeliver(ref MessagePackReader r, int fields, out DeliverFields deliver)
    {
        Require(fields, 6, MessageType.Deliver);
        deliver.Conversation = ReadInt64(ref r, "conversation");
        deliver.Seq = ReadInt64(ref r, "seq");
        deliver.Sender = ReadInt64(ref r, "sender");
        deliver.Timestamp = ReadInt64(ref r, "timestamp");
        deliver.ClientMessageId = ReadBinary(ref r, "client_message_id");
        deliver.Body = ReadBinary(ref r, "body");
        SkipFields(ref r, fields - 6);
    }

    /// <summary>Decodes one frame; null for a message type this version does not know (a newer server).</summary>
    public static ServerMessage? Read(in ReadOnlySequence<byte> frame)
    {
        var r = new MessagePackReader(frame);
        try
        {
            int fields = ReadEnvelope(ref r, out MessageType type);
            ServerMessage? message = type switch
            {
                MessageType.Hello => ReadHello(ref r, fields),
                MessageType.Ack => ReadAck(ref r, fields),
                MessageType.Deliver => ReadDeliverMessage(ref r, fields),
                MessageType.SyncResult => ReadSyncResult(ref r, fields),
                MessageType.ConversationList => ReadConversationList(ref r, fields),
                MessageType.Pending => ReadPending(ref r, fields),
                MessageType.Receipt => Fixed(ref r, fields, 3, MessageType.Receipt, (ref MessagePackReader x) =>
                    new ReceiptMessage(ReadInt64(ref x, "conversation"), ReadInt64(ref x, "user"), ReadInt64(ref x, "seq"))),
                MessageType.TypingEvent => Fixed(ref r, fields, 2, MessageType.TypingEvent, (ref MessagePackReader x) =>
                    new TypingMessage(ReadInt64(ref x, "conversation"), ReadInt64(ref x, "user"))),
                MessageType.MembershipEvent => ReadMembership(ref r, fields),
                MessageType.Error => Fixed(ref r, fields, 3, MessageType.Error, (ref MessagePackReader x) =>
                    new ErrorMessage((uint)ReadInt64(ref x, "request id"), ReadString(ref x, "code", 256), ReadString(ref x, "message", 64 * 1024))),
                MessageType.PresenceResult => ReadPresenceResult(ref r, fields),
                MessageType.PresenceEvent => ReadPresenceEvent(ref r, fields),
                MessageType.Ok => Fixed(ref r, fields, 2, MessageType.Ok, (ref MessagePackReader x) =>
                    new OkMessage((uint)ReadInt64(ref x, "request id"), ReadInt64(ref x, "value"))),
                _ => null,
            };
            return message;
        }
        // The decoder does no I/O: anything it throws on hostile bytes (short reads, overflowing lengths such as a
        // bin32 of 4 GiB, which MessagePackReader turns into a negative slice) means the frame is malformed.
        catch (Exception ex) when (ex is not ProtocolException and not OutOfMemoryException)
        {
            throw new ProtocolException(ErrorCode.Malformed, "not a well-formed server message: " + ex.Message);
        }
    }

    private delegate ServerMessage FieldsReader(ref MessagePackReader reader);

    private static ServerMessage Fixed(ref MessagePackReader r, int fields, int needed, MessageType type, FieldsReader read)
    {
        Require(fields, needed, type);
        ServerMessage message = read(ref r);
        SkipFields(ref r, fields - needed);
        return message;
    }

    private static void Require(int fields, int needed, MessageType type)
    {
        if (fields < needed)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"{type} has {needed} fields, got {fields}");
        }
    }

    private static HelloMessage ReadHello(ref MessagePackReader r, int fields)
    {
        Require(fields, 9, MessageType.Hello);
        var hello = new HelloFields(
            ReadInt64(ref r, "user"), ReadString(ref r, "session_id", 256), ReadInt64(ref r, "heartbeat_ms"),
            (int)ReadInt64(ref r, "max_body"), (int)ReadInt64(ref r, "max_group_members"), ReadInt64(ref r, "server_time"),
            ReadInt64(ref r, "token_expires"), (int)ReadInt64(ref r, "max_page_messages"), (int)ReadInt64(ref r, "shards"));
        SkipFields(ref r, fields - 9);
        return new HelloMessage(hello);
    }

    private static AckMessage ReadAck(ref MessagePackReader r, int fields)
    {
        Require(fields, 5, MessageType.Ack);
        var ack = new AckMessage((uint)ReadInt64(ref r, "request id"), ReadInt64(ref r, "conversation"), ReadInt64(ref r, "seq"),
            ReadInt64(ref r, "timestamp"), ReadBoolean(ref r, "duplicate"));
        SkipFields(ref r, fields - 5);
        return ack;
    }

    private static DeliverMessage ReadDeliverMessage(ref MessagePackReader r, int fields)
    {
        ReadDeliver(ref r, fields, out DeliverFields d);
        return new DeliverMessage(new ChatMessage(d.Conversation, d.Seq, d.Sender, d.Timestamp, ToGuid(d.ClientMessageId), d.Body.ToArray()));
    }

    private static SyncResultMessage ReadSyncResult(ref MessagePackReader r, int fields)
    {
        Require(fields, 7, MessageType.SyncResult);
        uint rid = (uint)ReadInt64(ref r, "request id");
        long conversation = ReadInt64(ref r, "conversation");
        long head = ReadInt64(ref r, "head");
        long earliest = ReadInt64(ref r, "earliest");
        bool truncated = ReadBoolean(ref r, "truncated");
        bool hasMore = ReadBoolean(ref r, "has_more");
        int count = r.ReadArrayHeader();
        var messages = new List<ChatMessage>(Math.Min(count, 1024));
        for (int i = 0; i < count; i++)
        {
            int itemFields = r.ReadArrayHeader();
            Require(itemFields, 5, MessageType.SyncResult);
            messages.Add(new ChatMessage(conversation, ReadInt64(ref r, "seq"), ReadInt64(ref r, "sender"), ReadInt64(ref r, "timestamp"),
                ToGuid(ReadBinary(ref r, "client_message_id")), ReadBinary(ref r, "body").ToArray()));
            SkipFields(ref r, itemFields - 5);
        }
        SkipFields(ref r, fields - 7);
        return new SyncResultMessage(rid, conversation, head, earliest, truncated, hasMore, messages);
    }

    private static ConversationListMessage ReadConversationList(ref MessagePackReader r, int fields)
    {
        Require(fields, 3, MessageType.ConversationList);
        uint rid = (uint)ReadInt64(ref r, "request id");
        int count = r.ReadArrayHeader();
        var items = new List<ConversationSummary>(Math.Min(count, 1024));
        for (int i = 0; i < count; i++)
        {
            int itemFields = r.ReadArrayHeader();
            Require(itemFields, 7, MessageType.ConversationList);
            items.Add(new ConversationSummary(ReadInt64(ref r, "conversation"), ReadInt64(ref r, "kind") == 1, ReadInt64(ref r, "head"),
                ReadInt64(ref r, "read_seq"), ReadInt64(ref r, "earliest"), ReadInt64(ref r, "member_count"), ReadInt64(ref r, "last_timestamp")));
            SkipFields(ref r, itemFields - 7);
        }
        long next = ReadInt64(ref r, "next_cursor");
        SkipFields(ref r, fields - 3);
        return new ConversationListMessage(rid, items, next);
    }

    private static PendingMessage ReadPending(ref MessagePackReader r, int fields)
    {
        Require(fields, 4, MessageType.Pending);
        int count = r.ReadArrayHeader();
        var items = new List<PendingConversation>(Math.Min(count, 1024));
        for (int i = 0; i < count; i++)
        {
            int itemFields = r.ReadArrayHeader();
            Require(itemFields, 4, MessageType.Pending);
            items.Add(new PendingConversation(ReadInt64(ref r, "conversation"), ReadInt64(ref r, "from_seq"), ReadInt64(ref r, "to_seq"),
                ReadBoolean(ref r, "expired")));
            SkipFields(ref r, itemFields - 4);
        }
        bool truncated = ReadBoolean(ref r, "truncated");
        byte[] cursor = ReadBinary(ref r, "cursor").ToArray();
        bool hasMore = ReadBoolean(ref r, "has_more");
        SkipFields(ref r, fields - 4);
        return new PendingMessage(items, truncated, cursor, hasMore);
    }

    private static MembershipMessage ReadMembership(ref MessagePackReader r, int fields)
    {
        Require(fields, 4, MessageType.MembershipEvent);
        long conversation = ReadInt64(ref r, "conversation");
        var change = (MembershipChange)ReadInt64(ref r, "change");
        long actor = ReadInt64(ref r, "actor");
        var users = new List<long>();
        ReadInt64Array(ref r, "users", int.MaxValue, users);
        SkipFields(ref r, fields - 4);
        return new MembershipMessage(conversation, change, actor, users);
    }

    private static PresenceResultMessage ReadPresenceResult(ref MessagePackReader r, int fields)
    {
        Require(fields, 3, MessageType.PresenceResult);
        uint rid = (uint)ReadInt64(ref r, "request id");
        List<PresenceEntry> entries = ReadPresenceEntries(ref r);
        var refused = new List<long>();
        ReadInt64Array(ref r, "refused", int.MaxValue, refused);
        SkipFields(ref r, fields - 3);
        return new PresenceResultMessage(rid, entries, refused);
    }

    private static PresenceEventMessage ReadPresenceEvent(ref MessagePackReader r, int fields)
    {
        Require(fields, 1, MessageType.PresenceEvent);
        List<PresenceEntry> changes = ReadPresenceEntries(ref r);
        SkipFields(ref r, fields - 1);
        return new PresenceEventMessage(changes);
    }

    private static List<PresenceEntry> ReadPresenceEntries(ref MessagePackReader r)
    {
        int count = r.ReadArrayHeader();
        var entries = new List<PresenceEntry>(Math.Min(count, 1024));
        for (int i = 0; i < count; i++)
        {
            int itemFields = r.ReadArrayHeader();
            Require(itemFields, 3, MessageType.PresenceEvent);
            entries.Add(new PresenceEntry(ReadInt64(ref r, "user"), (PresenceStatus)ReadInt64(ref r, "status"), ReadInt64(ref r, "last_seen")));
            SkipFields(ref r, itemFields - 3);
        }
        return entries;
    }

    /// <summary>A client message id as a Guid (big-endian bytes, zero-padded), the form the .NET client uses.</summary>
    public static Guid ToGuid(in ReadOnlySequence<byte> bytes)
    {
        Span<byte> padded = stackalloc byte[16];
        padded.Clear();
        if (bytes.Length <= 16)
        {
            bytes.CopyTo(padded);
        }
        return new Guid(padded, bigEndian: true);
    }
}
