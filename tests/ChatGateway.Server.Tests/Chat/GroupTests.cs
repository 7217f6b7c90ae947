using System.Text;
using ChatGateway.Protocol;

namespace ChatGateway.Server.Tests.Chat;

public sealed class GroupTests
{
    private const long A = 2001, B = 2002, C = 2003, D = 2004;

    [Fact]
    public async Task Members_are_told_about_creation_additions_removals_and_leaving_and_removed_users_stop_receiving()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient a = await server.ConnectRawAsync(A);
        await using RawChatClient b = await server.ConnectRawAsync(B);
        await using RawChatClient c = await server.ConnectRawAsync(C);
        await using RawChatClient d = await server.ConnectRawAsync(D);

        uint rid = await a.SendAsync((o, r) => ClientRequestWriter.CreateGroup(o, r, [B, C, B, A]));
        long group = Assert.IsType<OkMessage>(await a.ReplyAsync(rid)).Value;
        Assert.False(ConversationId.IsDirect(group));
        MembershipMessage created = await c.ReceiveAsync<MembershipMessage>();
        Assert.Equal((group, MembershipChange.Created, A), (created.Conversation, created.Change, created.Actor));
        Assert.Equal([A, B, C], created.Users.Order());

        rid = await b.SendAsync((o, r) => ClientRequestWriter.AddMembers(o, r, group, [D, C]));
        Assert.Equal(1, Assert.IsType<OkMessage>(await b.ReplyAsync(rid)).Value); // C already was one
        MembershipMessage added = await d.ReceiveAsync<MembershipMessage>();
        Assert.Equal((MembershipChange.Added, B), (added.Change, added.Actor));
        Assert.Equal([D], added.Users);

        rid = await a.SendAsync((o, r) => ClientRequestWriter.RemoveMembers(o, r, group, [C]));
        Assert.Equal(1, Assert.IsType<OkMessage>(await a.ReplyAsync(rid)).Value);
        MembershipMessage removed = await c.ReceiveAsync<MembershipMessage>(m => m.Change == MembershipChange.Removed);
        Assert.Equal([C], removed.Users);

        rid = await d.SendAsync((o, r) => ClientRequestWriter.Leave(o, r, group));
        Assert.IsType<OkMessage>(await d.ReplyAsync(rid));
        Assert.Equal(MembershipChange.Left, (await b.ReceiveAsync<MembershipMessage>(m => m.Change == MembershipChange.Left)).Change);

        AckMessage ack = await a.SendMessageAsync(group, "after the changes");
        Assert.Equal(ack.Seq, (await b.ReceiveAsync<DeliverMessage>()).Message.Seq);
        foreach (RawChatClient gone in new[] { c, d })
        {
            rid = await gone.SendAsync((o, r) => ClientRequestWriter.Sync(o, r, group, 0, 10));
            var skipped = new List<ServerMessage>();
            Assert.Equal(ErrorCode.NotMember, Assert.IsType<ErrorMessage>(await gone.ReceiveAsync<ServerMessage>(m => m is IReply x && x.RequestId == rid, skipped)).Code);
            Assert.DoesNotContain(skipped, m => m is DeliverMessage);
        }
    }

    [Fact]
    public async Task The_member_limit_holds_at_creation_and_when_adding_and_1to1_members_are_fixed()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync("--Chat:MaxGroupMembers", "3");
        await using RawChatClient a = await server.ConnectRawAsync(A);
        Assert.Equal(3, a.Hello.MaxGroupMembers);

        uint rid = await a.SendAsync((o, r) => ClientRequestWriter.CreateGroup(o, r, [B, C, D]));
        Assert.Equal(ErrorCode.GroupFull, Assert.IsType<ErrorMessage>(await a.ReplyAsync(rid)).Code);
        rid = await a.SendAsync((o, r) => ClientRequestWriter.CreateGroup(o, r, [B, C]));
        long group = Assert.IsType<OkMessage>(await a.ReplyAsync(rid)).Value;
        rid = await a.SendAsync((o, r) => ClientRequestWriter.AddMembers(o, r, group, [D]));
        Assert.Equal(ErrorCode.GroupFull, Assert.IsType<ErrorMessage>(await a.ReplyAsync(rid)).Code);

        long direct = (await a.SendMessageAsync(0, "hi", toUser: B)).Conversation;
        rid = await a.SendAsync((o, r) => ClientRequestWriter.AddMembers(o, r, direct, [C]));
        Assert.Equal(ErrorCode.NotAGroup, Assert.IsType<ErrorMessage>(await a.ReplyAsync(rid)).Code);
        rid = await a.SendAsync((o, r) => ClientRequestWriter.Leave(o, r, direct));
        Assert.Equal(ErrorCode.NotAGroup, Assert.IsType<ErrorMessage>(await a.ReplyAsync(rid)).Code);
    }

    [Fact]
    public async Task Sync_and_History_page_through_a_conversation_and_report_retention_truncation()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync("--Storage:RetainMessagesPerConversation", "6");
        await using RawChatClient a = await server.ConnectRawAsync(A);
        long conversation = (await a.SendMessageAsync(0, "m1", toUser: B)).Conversation;
        for (int i = 2; i <= 10; i++)
        {
            await a.SendMessageAsync(conversation, "m" + i);
        }

        // Messages 1-4 fell out of the 6-message window: asking from the start says so explicitly.
        uint rid = await a.SendAsync((o, r) => ClientRequestWriter.Sync(o, r, conversation, 0, 3));
        var page = Assert.IsType<SyncResultMessage>(await a.ReplyAsync(rid));
        Assert.Equal((true, 5L, 10L, true), (page.Truncated, page.Earliest, page.Head, page.HasMore));
        Assert.Equal([5L, 6, 7], page.Messages.Select(m => m.Seq));

        rid = await a.SendAsync((o, r) => ClientRequestWriter.Sync(o, r, conversation, 7, 3));
        page = Assert.IsType<SyncResultMessage>(await a.ReplyAsync(rid));
        Assert.Equal(("8,9,10", false, false), (Seqs(page), page.HasMore, page.Truncated));

        rid = await a.SendAsync((o, r) => ClientRequestWriter.History(o, r, conversation, 0, 2));
        page = Assert.IsType<SyncResultMessage>(await a.ReplyAsync(rid));
        Assert.Equal(("m9,m10", true), (string.Join(",", page.Messages.Select(m => Encoding.UTF8.GetString(m.Body))), page.HasMore));
        rid = await a.SendAsync((o, r) => ClientRequestWriter.History(o, r, conversation, 6, 5));
        page = Assert.IsType<SyncResultMessage>(await a.ReplyAsync(rid));
        Assert.Equal(("5", false, true), (Seqs(page), page.HasMore, page.Truncated));
    }

    [Fact]
    public async Task A_page_is_cut_at_the_byte_budget_and_says_there_is_more()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync("--Chat:MaxPageBytes", "70000", "--Chat:MaxBodyBytes", "30000");
        await using RawChatClient a = await server.ConnectRawAsync(A);
        string big = new('x', 30_000);
        long conversation = (await a.SendMessageAsync(0, big, toUser: B)).Conversation;
        for (int i = 0; i < 4; i++)
        {
            await a.SendMessageAsync(conversation, big);
        }

        uint rid = await a.SendAsync((o, r) => ClientRequestWriter.Sync(o, r, conversation, 0, 100));
        var page = Assert.IsType<SyncResultMessage>(await a.ReplyAsync(rid));
        Assert.Equal(("1,2", true), (Seqs(page), page.HasMore));
        rid = await a.SendAsync((o, r) => ClientRequestWriter.History(o, r, conversation, 0, 100));
        page = Assert.IsType<SyncResultMessage>(await a.ReplyAsync(rid));
        Assert.Equal(("4,5", true), (Seqs(page), page.HasMore));

        byte[] tooBig = new byte[30_001];
        rid = await a.SendAsync((o, r) => ClientRequestWriter.Send(o, r, conversation, 0, [], tooBig));
        Assert.Equal(ErrorCode.TooLarge, Assert.IsType<ErrorMessage>(await a.ReplyAsync(rid)).Code);
    }

    [Fact]
    public async Task ListConversations_pages_and_filters_by_change_time_including_groups_joined_without_messages()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient a = await server.ConnectRawAsync(A);
        await using RawChatClient b = await server.ConnectRawAsync(B);
        var mine = new HashSet<long>();
        long lastMessageAt = 0;
        for (long peer = 1; peer <= 5; peer++)
        {
            AckMessage ack = await a.SendMessageAsync(0, "hi", toUser: 9000 + peer);
            mine.Add(ack.Conversation);
            lastMessageAt = ack.Timestamp;
        }
        // changed_since keeps what changed at or after it (ms): take a server time past the last message, asking
        // again while a round trip still falls within that message's millisecond.
        uint rid;
        long now;
        do
        {
            rid = await b.SendAsync((o, r) => ClientRequestWriter.Heartbeat(o, r));
            now = Assert.IsType<OkMessage>(await b.ReplyAsync(rid)).Value;
        }
        while (now <= lastMessageAt);
        rid = await b.SendAsync((o, r) => ClientRequestWriter.CreateGroup(o, r, [A]));
        long group = Assert.IsType<OkMessage>(await b.ReplyAsync(rid)).Value;
        mine.Add(group);

        var listed = new List<long>();
        long cursor = 0;
        int pages = 0;
        do
        {
            rid = await a.SendAsync((o, r) => ClientRequestWriter.ListConversations(o, r, 0, cursor, 2));
            var list = Assert.IsType<ConversationListMessage>(await a.ReplyAsync(rid));
            Assert.True(list.Conversations.Count <= 2);
            listed.AddRange(list.Conversations.Select(c => c.Conversation));
            cursor = list.NextCursor;
            pages++;
        }
        while (cursor != 0);
        Assert.Equal(mine.Order(), listed.Order());
        Assert.True(pages >= 3);

        rid = await a.SendAsync((o, r) => ClientRequestWriter.ListConversations(o, r, now, 0, 100));
        var changed = Assert.IsType<ConversationListMessage>(await a.ReplyAsync(rid));
        Assert.Equal([group], changed.Conversations.Select(c => c.Conversation));
    }

    private static string Seqs(SyncResultMessage page) => string.Join(",", page.Messages.Select(m => m.Seq));
}
