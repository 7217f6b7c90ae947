using System.Buffers;
using System.Text;
using ChatGateway.Protocol;
using MessagePack;

namespace ChatGateway.Server.Tests.Chat;

public sealed class MessagingTests
{
    private const long A = 1001, B = 1002, C = 1003, D = 1004;

    [Fact]
    public async Task A_message_to_an_online_user_is_acked_then_delivered_with_the_same_seq()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient a = await server.ConnectRawAsync(A);
        await using RawChatClient d = await server.ConnectRawAsync(D);
        Assert.Equal(A, a.Hello.User);

        AckMessage ack = await a.SendMessageAsync(0, "hello D", toUser: D);
        DeliverMessage deliver = await d.ReceiveAsync<DeliverMessage>();

        Assert.Equal(1, ack.Seq);
        Assert.False(ack.Duplicate);
        Assert.True(ConversationId.IsDirect(ack.Conversation));
        Assert.Equal((ack.Conversation, 1L, A, ack.Timestamp), (deliver.Message.Conversation, deliver.Message.Seq, deliver.Message.Sender, deliver.Message.Timestamp));
        Assert.Equal("hello D", Encoding.UTF8.GetString(deliver.Message.Body));
    }

    [Fact]
    public async Task An_offline_user_gets_a_pending_entry_and_syncs_exactly_the_missed_messages_in_order()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient a = await server.ConnectRawAsync(A);
        long conversation = (await a.SendMessageAsync(0, "m1", toUser: D)).Conversation;
        for (int i = 2; i <= 5; i++)
        {
            await a.SendMessageAsync(conversation, "m" + i);
        }

        await using RawChatClient d = await server.ConnectRawAsync(D);
        PendingMessage pending = await d.ReceiveAsync<PendingMessage>();
        Assert.Equal([new PendingConversation(conversation, 1, 5, false)], pending.Conversations);
        Assert.False(pending.Truncated);

        uint rid = await d.SendAsync((o, r) => ClientRequestWriter.Sync(o, r, conversation, 0, 100));
        var page = Assert.IsType<SyncResultMessage>(await d.ReplyAsync(rid));
        Assert.Equal(["m1", "m2", "m3", "m4", "m5"], page.Messages.Select(m => Encoding.UTF8.GetString(m.Body)));
        Assert.Equal([1L, 2, 3, 4, 5], page.Messages.Select(m => m.Seq));
        Assert.All(page.Messages, m => Assert.Equal(A, m.Sender));
        Assert.Equal((5L, false, false), (page.Head, page.HasMore, page.Truncated));

        rid = await d.SendAsync((o, r) => ClientRequestWriter.AckPending(o, r, pending.Cursor));
        Assert.IsType<OkMessage>(await d.ReplyAsync(rid));
        await d.DisposeAsync();

        // Acknowledged: the next session starts with no Pending (its first answer is the Heartbeat's Ok).
        await using RawChatClient again = await server.ConnectRawAsync(D);
        rid = await again.SendAsync((o, r) => ClientRequestWriter.Heartbeat(o, r));
        var skipped = new List<ServerMessage>();
        await again.ReceiveAsync<OkMessage>(m => m.RequestId == rid, skipped);
        Assert.Empty(skipped);
    }

    [Fact]
    public async Task Many_devices_sending_concurrently_into_one_group_all_see_one_gap_free_order()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        RawChatClient[] devices =
        [
            await server.ConnectRawAsync(A), await server.ConnectRawAsync(A), await server.ConnectRawAsync(A),
            await server.ConnectRawAsync(B), await server.ConnectRawAsync(B),
        ];
        uint create = await devices[0].SendAsync((o, r) => ClientRequestWriter.CreateGroup(o, r, [B]));
        long group = Assert.IsType<OkMessage>(await devices[0].ReplyAsync(create)).Value;
        const int perDevice = 40;
        const int total = perDevice * 5;

        // Each device sends its messages without waiting for acks, and reads until it holds every seq.
        Task<SortedDictionary<long, string>>[] views = devices.Select((device, index) => Task.Run(async () =>
        {
            var sentBodies = new Dictionary<uint, string>();
            for (int i = 0; i < perDevice; i++)
            {
                byte[] body = Encoding.UTF8.GetBytes($"d{index}-{i}");
                sentBodies[await device.SendAsync((o, r) => ClientRequestWriter.Send(o, r, group, 0, Guid.NewGuid().ToByteArray(), body))] = $"d{index}-{i}";
            }
            var seen = new SortedDictionary<long, string>();
            long lastDelivered = 0;
            int acks = 0;
            while (seen.Count < total || acks < perDevice)
            {
                switch (await device.ReceiveAsync())
                {
                    case AckMessage ack:
                        acks++;
                        seen.Add(ack.Seq, sentBodies[ack.RequestId]);
                        break;
                    case DeliverMessage deliver when deliver.Message.Conversation == group:
                        Assert.True(deliver.Message.Seq > lastDelivered, "deliveries come in seq order");
                        lastDelivered = deliver.Message.Seq;
                        seen.Add(deliver.Message.Seq, Encoding.UTF8.GetString(deliver.Message.Body));
                        break;
                }
            }
            return seen;
        })).ToArray();
        SortedDictionary<long, string>[] results = await Task.WhenAll(views);

        Assert.Equal(Enumerable.Range(1, total).Select(i => (long)i), results[0].Keys);
        foreach (SortedDictionary<long, string> view in results[1..])
        {
            Assert.Equal(results[0], view); // same seq -> same message everywhere
        }
        foreach (RawChatClient device in devices)
        {
            await device.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_retried_send_with_the_same_client_message_id_gets_the_original_ack_also_after_a_reconnect()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        Guid id = Guid.NewGuid();
        await using RawChatClient a = await server.ConnectRawAsync(A);
        AckMessage first = await a.SendMessageAsync(0, "once", id, toUser: B);
        AckMessage again = await a.SendMessageAsync(first.Conversation, "once", id);
        await a.DisposeAsync();

        // The ack was "lost": the client reconnects and retries.
        await using RawChatClient reconnected = await server.ConnectRawAsync(A);
        AckMessage retried = await reconnected.SendMessageAsync(0, "once", id, toUser: B);

        Assert.Equal((first.Conversation, first.Seq, first.Timestamp), (again.Conversation, again.Seq, again.Timestamp));
        Assert.Equal((first.Conversation, first.Seq, first.Timestamp), (retried.Conversation, retried.Seq, retried.Timestamp));
        Assert.True(again.Duplicate && retried.Duplicate);
        uint rid = await reconnected.SendAsync((o, r) => ClientRequestWriter.Sync(o, r, first.Conversation, 0, 10));
        Assert.Single(Assert.IsType<SyncResultMessage>(await reconnected.ReplyAsync(rid)).Messages);
    }

    [Fact]
    public async Task Non_members_can_neither_send_read_sync_nor_change_a_conversation()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient a = await server.ConnectRawAsync(A);
        await using RawChatClient c = await server.ConnectRawAsync(C);
        long direct = (await a.SendMessageAsync(0, "private", toUser: D)).Conversation;
        uint create = await a.SendAsync((o, r) => ClientRequestWriter.CreateGroup(o, r, [B]));
        long group = Assert.IsType<OkMessage>(await a.ReplyAsync(create)).Value;
        const long neverCreated = 424242;

        foreach (long conversation in new[] { direct, group, neverCreated })
        {
            var attempts = new List<Action<IBufferWriter<byte>, uint>>
            {
                (o, r) => ClientRequestWriter.Send(o, r, conversation, 0, [], "x"u8),
                (o, r) => ClientRequestWriter.Sync(o, r, conversation, 0, 10),
                (o, r) => ClientRequestWriter.History(o, r, conversation, 0, 10),
                (o, r) => ClientRequestWriter.Read(o, r, conversation, 1),
                (o, r) => ClientRequestWriter.Typing(o, r, conversation),
                (o, r) => ClientRequestWriter.AddMembers(o, r, conversation, [C]),
                (o, r) => ClientRequestWriter.RemoveMembers(o, r, conversation, [A]),
                (o, r) => ClientRequestWriter.Leave(o, r, conversation),
            };
            foreach (Action<IBufferWriter<byte>, uint> attempt in attempts)
            {
                uint rid = await c.SendAsync(attempt);
                var error = Assert.IsType<ErrorMessage>(await c.ReplyAsync(rid));
                Assert.Equal(ErrorCode.NotMember, error.Code);
            }
        }
        // Nothing leaked and nothing changed: the history of the direct conversation is A's one message.
        uint sync = await a.SendAsync((o, r) => ClientRequestWriter.Sync(o, r, direct, 0, 10));
        Assert.Single(Assert.IsType<SyncResultMessage>(await a.ReplyAsync(sync)).Messages);
    }

    [Fact]
    public async Task The_sender_is_always_the_authenticated_user_whatever_extra_fields_a_client_adds()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient a = await server.ConnectRawAsync(A);
        await using RawChatClient b = await server.ConnectRawAsync(B);
        long conversation = (await a.SendMessageAsync(0, "first", toUser: B)).Conversation;
        await b.ReceiveAsync<DeliverMessage>();

        // A Send with a trailing "sender" field claiming to be B: unknown fields are ignored.
        var forged = new ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(forged);
        w.WriteArrayHeader(7);
        w.Write((byte)MessageType.Send);
        w.Write(77u);
        w.Write(conversation);
        w.Write(0L);
        w.Write(Guid.NewGuid().ToByteArray());
        w.Write("forged"u8);
        w.Write(B);
        w.Flush();
        await a.SendRawAsync(forged.WrittenMemory);

        Assert.IsType<AckMessage>(await a.ReplyAsync(77));
        DeliverMessage deliver = await b.ReceiveAsync<DeliverMessage>();
        Assert.Equal(A, deliver.Message.Sender);
        Assert.Equal("forged", Encoding.UTF8.GetString(deliver.Message.Body));
    }

    [Fact]
    public async Task The_senders_other_devices_receive_the_message_and_the_sending_device_gets_only_the_ack()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient phone = await server.ConnectRawAsync(A);
        await using RawChatClient laptop = await server.ConnectRawAsync(A);

        AckMessage ack = await phone.SendMessageAsync(0, "from my phone", toUser: B);
        DeliverMessage onLaptop = await laptop.ReceiveAsync<DeliverMessage>();
        Assert.Equal((ack.Conversation, ack.Seq, A), (onLaptop.Message.Conversation, onLaptop.Message.Seq, onLaptop.Message.Sender));

        uint rid = await phone.SendAsync((o, r) => ClientRequestWriter.Heartbeat(o, r));
        var skipped = new List<ServerMessage>();
        await phone.ReceiveAsync<OkMessage>(m => m.RequestId == rid, skipped);
        Assert.DoesNotContain(skipped, m => m is DeliverMessage);
    }

    [Fact]
    public async Task Read_receipts_reach_the_other_members_and_show_in_the_conversation_list()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient a = await server.ConnectRawAsync(A);
        await using RawChatClient b = await server.ConnectRawAsync(B);
        long conversation = (await a.SendMessageAsync(0, "one", toUser: B)).Conversation;
        await a.SendMessageAsync(conversation, "two");

        uint rid = await b.SendAsync((o, r) => ClientRequestWriter.Read(o, r, conversation, 2));
        Assert.Equal(2, Assert.IsType<OkMessage>(await b.ReplyAsync(rid)).Value);
        ReceiptMessage receipt = await a.ReceiveAsync<ReceiptMessage>();
        Assert.Equal(new ReceiptMessage(conversation, B, 2), receipt);

        rid = await b.SendAsync((o, r) => ClientRequestWriter.ListConversations(o, r, 0, 0, 50));
        ConversationSummary summary = Assert.Single(Assert.IsType<ConversationListMessage>(await b.ReplyAsync(rid)).Conversations);
        Assert.Equal((conversation, true, 2L, 2L, 2L), (summary.Conversation, summary.IsDirect, summary.Head, summary.ReadSeq, summary.MemberCount));
    }

    [Fact]
    public async Task Typing_is_relayed_to_the_other_members_only()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient a = await server.ConnectRawAsync(A);
        await using RawChatClient b = await server.ConnectRawAsync(B);
        long conversation = (await a.SendMessageAsync(0, "hi", toUser: B)).Conversation;

        uint rid = await a.SendAsync((o, r) => ClientRequestWriter.Typing(o, r, conversation));
        Assert.IsType<OkMessage>(await a.ReplyAsync(rid));
        Assert.Equal(new TypingMessage(conversation, A), await b.ReceiveAsync<TypingMessage>());
    }
}
