using System.Net.WebSockets;
using ChatGateway.Client;
using ChatGateway.Protocol;
using ChatGateway.Server.Tests.Chat;

namespace ChatGateway.Server.Tests.Presence;

/// <summary>Presence over real sockets: subscriptions, snapshots and change events, privacy, limits, persistence.</summary>
public sealed class PresenceTests
{
    private const long A = 7001, B = 7002, Stranger = 7003;
    private static readonly string[] FastBatches = ["--Presence:BatchInterval", "00:00:00.050"];

    private static async Task<PresenceResultMessage> RequestAsync(RawChatClient client, Action<System.Buffers.IBufferWriter<byte>, uint> write)
    {
        uint rid = await client.SendAsync(write);
        return Assert.IsType<PresenceResultMessage>(await client.ReplyAsync(rid));
    }

    [Fact]
    public async Task A_subscriber_gets_a_snapshot_then_an_event_when_a_contact_comes_online_and_when_it_leaves_gracefully()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync(FastBatches);
        await using RawChatClient a = await server.ConnectRawAsync(A);
        await a.SendMessageAsync(0, "hi", toUser: B); // A and B now share a conversation

        PresenceResultMessage snapshot = await RequestAsync(a, (o, r) => ClientRequestWriter.PresenceSubscribe(o, r, [B]));
        Assert.Equal([new PresenceEntry(B, PresenceStatus.Offline, 0)], snapshot.Entries);
        Assert.Empty(snapshot.Refused);

        RawChatClient b = await server.ConnectRawAsync(B);
        PresenceEntry online = Assert.Single((await a.ReceiveAsync<PresenceEventMessage>()).Changes);
        Assert.Equal((B, PresenceStatus.Online), (online.User, online.Status));

        long before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await b.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        PresenceEntry offline = Assert.Single((await a.ReceiveAsync<PresenceEventMessage>()).Changes);
        Assert.Equal((B, PresenceStatus.Offline), (offline.User, offline.Status));
        Assert.InRange(offline.LastSeen, before - 1000, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        await b.DisposeAsync();
    }

    [Fact]
    public async Task Presence_of_users_sharing_no_conversation_is_refused_unless_visibility_is_everyone()
    {
        await using (ChatTestServer server = await ChatTestServer.StartAsync())
        {
            await using RawChatClient a = await server.ConnectRawAsync(A);
            uint rid = await a.SendAsync((o, r) => ClientRequestWriter.CreateGroup(o, r, [B]));
            await a.ReplyAsync(rid);

            PresenceResultMessage result = await RequestAsync(a, (o, r) => ClientRequestWriter.PresenceQuery(o, r, [B, Stranger, A]));
            Assert.Equal([A, B], result.Entries.Select(e => e.User).Order());
            Assert.Equal([Stranger], result.Refused);
            Assert.Equal(PresenceStatus.Online, result.Entries.Single(e => e.User == A).Status);
        }
        await using (ChatTestServer open = await ChatTestServer.StartAsync("--Presence:Visibility", "Everyone"))
        {
            await using RawChatClient a = await open.ConnectRawAsync(A);
            PresenceResultMessage result = await RequestAsync(a, (o, r) => ClientRequestWriter.PresenceQuery(o, r, [Stranger]));
            Assert.Equal([Stranger], result.Entries.Select(e => e.User));
            Assert.Empty(result.Refused);
        }
    }

    [Fact]
    public async Task Subscriptions_per_session_are_bounded()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync("--Presence:MaxSubscriptionsPerSession", "2", "--Presence:Visibility", "Everyone");
        await using RawChatClient a = await server.ConnectRawAsync(A);

        Assert.Equal(2, (await RequestAsync(a, (o, r) => ClientRequestWriter.PresenceSubscribe(o, r, [1, 2]))).Entries.Count);
        Assert.Single((await RequestAsync(a, (o, r) => ClientRequestWriter.PresenceSubscribe(o, r, [2]))).Entries); // already held: no new slot
        uint rid = await a.SendAsync((o, r) => ClientRequestWriter.PresenceSubscribe(o, r, [3]));
        Assert.Equal(ErrorCode.BadRequest, Assert.IsType<ErrorMessage>(await a.ReplyAsync(rid)).Code);

        rid = await a.SendAsync((o, r) => ClientRequestWriter.PresenceUnsubscribe(o, r, [1]));
        Assert.IsType<OkMessage>(await a.ReplyAsync(rid));
        Assert.Single((await RequestAsync(a, (o, r) => ClientRequestWriter.PresenceSubscribe(o, r, [3]))).Entries);
    }

    [Fact]
    public async Task Last_seen_survives_a_restart()
    {
        string data = Directory.CreateTempSubdirectory("chatgw-presence-").FullName;
        try
        {
            long lastSeen;
            ChatTestServer first = await ChatTestServer.StartInAsync(data, FastBatches);
            await using (first)
            {
                await using RawChatClient a = await first.ConnectRawAsync(A);
                await a.SendMessageAsync(0, "hi", toUser: B);
                await RequestAsync(a, (o, r) => ClientRequestWriter.PresenceSubscribe(o, r, [B]));
                await using (RawChatClient b = await first.ConnectRawAsync(B))
                {
                    await a.ReceiveAsync<PresenceEventMessage>(e => e.Changes[0].Status == PresenceStatus.Online);
                    await b.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                }
                PresenceEntry offline = Assert.Single((await a.ReceiveAsync<PresenceEventMessage>(e => e.Changes[0].Status == PresenceStatus.Offline)).Changes);
                lastSeen = offline.LastSeen;
                Assert.True(lastSeen > 0);
                await first.StopAsync();
            }

            await using ChatTestServer second = await ChatTestServer.StartInAsync(data);
            await using RawChatClient again = await second.ConnectRawAsync(A);
            PresenceResultMessage after = await RequestAsync(again, (o, r) => ClientRequestWriter.PresenceQuery(o, r, [B]));
            Assert.Equal(new PresenceEntry(B, PresenceStatus.Offline, lastSeen), Assert.Single(after.Entries));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task The_sdk_subscribes_reports_changes_and_declares_away()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync(FastBatches);
        await using ChatClient alice = server.Client(A);
        await using ChatClient bob = server.Client(B);
        await alice.ConnectAsync();
        await alice.SendToUserAsync(B, "hi"u8.ToArray());

        PresenceResultMessage snapshot = await alice.SubscribePresenceAsync([B]);
        Assert.Equal(PresenceStatus.Offline, snapshot.Entries.Single().Status);
        await bob.ConnectAsync();
        Assert.Equal(PresenceStatus.Online, (await NextPresenceAsync(alice)).Status);

        await bob.SetStatusAsync(DeclaredStatus.Away);
        Assert.Equal(PresenceStatus.Away, (await NextPresenceAsync(alice)).Status);
    }

    private static async Task<PresenceEntry> NextPresenceAsync(ChatClient client)
    {
        using var timeout = new CancellationTokenSource(RawChatClient.Timeout);
        while (true)
        {
            if (await client.Events.ReadAsync(timeout.Token) is PresenceChangedEvent changed)
            {
                return Assert.Single(changed.Changes);
            }
        }
    }
}
