using System.Buffers;
using MessagePack;

namespace ChatGateway.Protocol.Tests;

/// <summary>Every message encodes and decodes to itself; the Deliver template patches in place; limits hold.</summary>
public sealed class CodecRoundTripTests
{
    private static ClientRequest Decode(Action<IBufferWriter<byte>> write, List<long>? members = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        List<long>? list = members ?? [];
        return ClientRequestReader.Read(new ReadOnlySequence<byte>(buffer.WrittenMemory), ref list, 1000, out _);
    }

    [Fact]
    public void A_user_list_is_created_only_for_a_request_that_carries_one()
    {
        var buffer = new ArrayBufferWriter<byte>();
        List<long>? members = null;
        ClientRequestWriter.Heartbeat(buffer, 1);
        ClientRequestReader.Read(new ReadOnlySequence<byte>(buffer.WrittenMemory), ref members, 1000, out _);
        Assert.Null(members); // a session that never sends a user list keeps none

        buffer.Clear();
        ClientRequestWriter.PresenceQuery(buffer, 2, [4, 5]);
        ClientRequestReader.Read(new ReadOnlySequence<byte>(buffer.WrittenMemory), ref members, 1000, out _);
        Assert.Equal([4L, 5], members);
    }

    private static ServerMessage? DecodeServer(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return ServerMessageReader.Read(new ReadOnlySequence<byte>(buffer.WrittenMemory));
    }

    private delegate void ServerWrite(ref MessagePackWriter w);

    private static ServerMessage? Server(ServerWrite write) => DecodeServer(output =>
    {
        var w = new MessagePackWriter(output);
        write(ref w);
        w.Flush();
    });

    [Fact]
    public void Client_requests_round_trip()
    {
        byte[] id = [1, 2, 3];
        ClientRequest send = Decode(o => ClientRequestWriter.Send(o, 7, 42, 0, id, "hi"u8));
        Assert.Equal((MessageType.Send, 7u, 42L, 0L), (send.Type, send.RequestId, send.Conversation, send.ToUser));
        Assert.Equal(id, send.ClientMessageId.ToArray());
        Assert.Equal("hi"u8.ToArray(), send.Body.ToArray());

        ClientRequest sync = Decode(o => ClientRequestWriter.Sync(o, 8, 42, 10, 50));
        Assert.Equal((MessageType.Sync, 8u, 42L, 10L, 50), (sync.Type, sync.RequestId, sync.Conversation, sync.Seq, sync.Limit));
        ClientRequest history = Decode(o => ClientRequestWriter.History(o, 9, 42, 0, 20));
        Assert.Equal((MessageType.History, 0L, 20), (history.Type, history.Seq, history.Limit));
        ClientRequest list = Decode(o => ClientRequestWriter.ListConversations(o, 10, 1234, 5, 100));
        Assert.Equal((MessageType.ListConversations, 1234L, 5L, 100), (list.Type, list.Since, list.Cursor, list.Limit));

        var members = new List<long>();
        Assert.Equal(MessageType.CreateGroup, Decode(o => ClientRequestWriter.CreateGroup(o, 11, [5, 6]), members).Type);
        Assert.Equal([5L, 6], members);
        ClientRequest add = Decode(o => ClientRequestWriter.AddMembers(o, 12, 42, [7]), members);
        Assert.Equal((MessageType.AddMembers, 42L), (add.Type, add.Conversation));
        Assert.Equal([7L], members);
        Assert.Equal(MessageType.RemoveMembers, Decode(o => ClientRequestWriter.RemoveMembers(o, 13, 42, [7]), members).Type);
        Assert.Equal((MessageType.Leave, 42L), (Decode(o => ClientRequestWriter.Leave(o, 14, 42)).Type, 42L));
        ClientRequest read = Decode(o => ClientRequestWriter.Read(o, 15, 42, 9));
        Assert.Equal((MessageType.Read, 42L, 9L), (read.Type, read.Conversation, read.Seq));
        Assert.Equal(MessageType.Typing, Decode(o => ClientRequestWriter.Typing(o, 16, 42)).Type);
        Assert.Equal(MessageType.Heartbeat, Decode(o => ClientRequestWriter.Heartbeat(o, 17)).Type);
        Assert.Equal("tok", Decode(o => ClientRequestWriter.RefreshToken(o, 18, "tok")).Token);
        Assert.Equal(new byte[] { 9, 9 }, Decode(o => ClientRequestWriter.AckPending(o, 19, [9, 9])).PendingCursor.ToArray());
        Assert.Equal(MessageType.PresenceQuery, Decode(o => ClientRequestWriter.PresenceQuery(o, 20, [1, 2]), members).Type);
        Assert.Equal([1L, 2], members);
        Assert.Equal(MessageType.PresenceSubscribe, Decode(o => ClientRequestWriter.PresenceSubscribe(o, 21, [3]), members).Type);
        Assert.Equal(MessageType.PresenceUnsubscribe, Decode(o => ClientRequestWriter.PresenceUnsubscribe(o, 22, [3]), members).Type);
        Assert.Equal(DeclaredStatus.Away, Decode(o => ClientRequestWriter.SetStatus(o, 23, DeclaredStatus.Away)).Status);
    }

    [Fact]
    public void Server_messages_round_trip()
    {
        var hello = new HelloFields(7, "s1", 30000, 65024, 1000, 1_796_000_000_000, 1_796_000_100_000, 200, 2);
        Assert.Equal(new HelloMessage(hello), Server((ref MessagePackWriter w) => ServerMessageWriter.Hello(ref w, hello)));
        Assert.Equal(new AckMessage(3, 42, 5, 99, true), DecodeServer(output =>
        {
            int length = ServerMessageWriter.Ack(output.GetSpan(ServerMessageWriter.MaxAckBytes), 3, 42, 5, 99, true);
            output.Advance(length);
        }));
        Assert.Equal(new OkMessage(4, -1), Server((ref MessagePackWriter w) => ServerMessageWriter.Ok(ref w, 4, -1)));
        Assert.Equal(new ErrorMessage(5, ErrorCode.NotMember, "no"), Server((ref MessagePackWriter w) => ServerMessageWriter.Error(ref w, 5, ErrorCode.NotMember, "no")));
        Assert.Equal(new ReceiptMessage(42, 7, 3), Server((ref MessagePackWriter w) => ServerMessageWriter.Receipt(ref w, 42, 7, 3)));
        Assert.Equal(new TypingMessage(42, 7), Server((ref MessagePackWriter w) => ServerMessageWriter.Typing(ref w, 42, 7)));

        var membership = Assert.IsType<MembershipMessage>(Server((ref MessagePackWriter w) => ServerMessageWriter.Membership(ref w, 42, MembershipChange.Added, 7, [8, 9])));
        Assert.Equal((42L, MembershipChange.Added, 7L), (membership.Conversation, membership.Change, membership.Actor));
        Assert.Equal([8L, 9], membership.Users);

        var presence = Assert.IsType<PresenceResultMessage>(Server((ref MessagePackWriter w) =>
            ServerMessageWriter.PresenceResult(ref w, 6, [new PresenceEntry(8, PresenceStatus.Away, 123)], [9])));
        Assert.Equal((6u, new PresenceEntry(8, PresenceStatus.Away, 123), 9L), (presence.RequestId, presence.Entries.Single(), presence.Refused.Single()));
        var changed = Assert.IsType<PresenceEventMessage>(Server((ref MessagePackWriter w) =>
            ServerMessageWriter.PresenceEvent(ref w, [new PresenceEntry(8, PresenceStatus.Online, 124)])));
        Assert.Equal(new PresenceEntry(8, PresenceStatus.Online, 124), changed.Changes.Single());

        var page = Assert.IsType<SyncResultMessage>(Server((ref MessagePackWriter w) =>
        {
            ServerMessageWriter.SyncResultHeader(ref w, 10, 42, 9, 1, false, true, 1);
            ServerMessageWriter.SyncMessage(ref w, 9, 7, 555, [], "body"u8);
        }));
        Assert.Equal((10u, 42L, 9L, 1L, false, true), (page.RequestId, page.Conversation, page.Head, page.Earliest, page.Truncated, page.HasMore));
        ChatMessage message = page.Messages.Single();
        Assert.Equal((42L, 9L, 7L, 555L, Guid.Empty, "body"), (message.Conversation, message.Seq, message.Sender, message.Timestamp, message.ClientMessageId,
            System.Text.Encoding.UTF8.GetString(message.Body)));

        var conversations = Assert.IsType<ConversationListMessage>(Server((ref MessagePackWriter w) =>
        {
            ServerMessageWriter.ConversationListHeader(ref w, 11, 1);
            ServerMessageWriter.ConversationEntry(ref w, new ConversationSummary(42, true, 9, 8, 1, 2, 555));
            ServerMessageWriter.ConversationListEnd(ref w, 0);
        }));
        Assert.Equal((new ConversationSummary(42, true, 9, 8, 1, 2, 555), 0L), (conversations.Conversations.Single(), conversations.NextCursor));

        var pending = Assert.IsType<PendingMessage>(Server((ref MessagePackWriter w) =>
        {
            ServerMessageWriter.PendingHeader(ref w, 1);
            ServerMessageWriter.PendingEntry(ref w, 42, 3, 9, false);
            ServerMessageWriter.PendingEnd(ref w, true, [0, 1], false);
        }));
        Assert.Equal((new PendingConversation(42, 3, 9, false), true, false), (pending.Conversations.Single(), pending.Truncated, pending.HasMore));
        Assert.Equal(new byte[] { 0, 1 }, pending.Cursor);
    }

    [Fact]
    public void A_Deliver_template_is_patched_in_place_and_reads_back_without_allocating_the_body()
    {
        Guid id = Guid.NewGuid();
        byte[] frame = new byte[ServerMessageWriter.MaxDeliverBytes(16, 5)];
        frame = frame[..ServerMessageWriter.Deliver(frame, ConversationId.DirectFlag | 77, 0, 7, 0, id.ToByteArray(bigEndian: true), "hello"u8)];

        ServerMessageWriter.PatchDeliver(frame, 123_456, 1_796_000_000_001);

        var deliver = Assert.IsType<DeliverMessage>(ServerMessageReader.Read(new ReadOnlySequence<byte>(frame)));
        Assert.Equal((ConversationId.DirectFlag | 77, 123_456L, 7L, 1_796_000_000_001L, id), (deliver.Message.Conversation, deliver.Message.Seq,
            deliver.Message.Sender, deliver.Message.Timestamp, deliver.Message.ClientMessageId));
        Assert.Throws<ArgumentException>(() => ServerMessageWriter.PatchDeliver(new byte[] { 0x93, 0x41, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01 }, 1, 1));
    }

    [Fact]
    public void Unknown_trailing_fields_are_skipped_but_not_past_the_nesting_limit()
    {
        List<long>? unused = null;
        byte[] Heartbeat(int depth)
        {
            var buffer = new ArrayBufferWriter<byte>();
            var w = new MessagePackWriter(buffer);
            w.WriteArrayHeader(3);
            w.Write((byte)MessageType.Heartbeat);
            w.Write(1u);
            for (int i = 0; i < depth; i++)
            {
                w.WriteArrayHeader(1);
            }
            w.WriteNil();
            w.Flush();
            return buffer.WrittenSpan.ToArray();
        }

        Assert.Equal(MessageType.Heartbeat, ClientRequestReader.Read(new ReadOnlySequence<byte>(Heartbeat(ProtocolLimits.MaxSkipDepth - 1)), ref unused, 10, out _).Type);
        ProtocolException error = Assert.Throws<ProtocolException>(() =>
            ClientRequestReader.Read(new ReadOnlySequence<byte>(Heartbeat(ProtocolLimits.MaxSkipDepth + 1)), ref unused, 10, out _));
        Assert.Equal(ErrorCode.Malformed, error.Code);
    }

    [Fact]
    public void A_server_message_of_an_unknown_type_reads_as_null_so_old_clients_survive_new_servers()
    {
        byte[] future = [0x92, 0x7f, 0x01]; // [127, 1]
        Assert.Null(ServerMessageReader.Read(new ReadOnlySequence<byte>(future)));
    }
}
