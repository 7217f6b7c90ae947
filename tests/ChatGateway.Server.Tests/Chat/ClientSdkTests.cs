using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using ChatGateway.Client;
using ChatGateway.Protocol;

namespace ChatGateway.Server.Tests.Chat;

public sealed class ClientSdkTests
{
    private const long Alice = 6001, Bob = 6002, Carol = 6003;

    private static async Task<T> NextAsync<T>(ChatClient client, Func<T, bool>? match = null) where T : ChatEvent
    {
        using var timeout = new CancellationTokenSource(RawChatClient.Timeout);
        while (true)
        {
            ChatEvent e = await client.Events.ReadAsync(timeout.Token);
            if (e is T typed && (match is null || match(typed)))
            {
                return typed;
            }
        }
    }

    private static async Task<List<ChatMessage>> MessagesAsync(ChatClient client, long conversation, int count) =>
        (await MessagesAsync(client, (conversation, count)))[conversation];

    /// <summary>Message events until each conversation has its count: conversations interleave in any order, each in seq order.</summary>
    private static async Task<Dictionary<long, List<ChatMessage>>> MessagesAsync(ChatClient client, params (long Conversation, int Count)[] wanted)
    {
        var messages = wanted.ToDictionary(w => w.Conversation, _ => new List<ChatMessage>());
        while (wanted.Any(w => messages[w.Conversation].Count < w.Count))
        {
            ChatMessage message = (await NextAsync<MessageEvent>(client)).Message;
            Assert.True(messages.ContainsKey(message.Conversation), $"unexpected message in {message.Conversation}");
            messages[message.Conversation].Add(message);
        }
        return messages;
    }

    private static string Bodies(List<ChatMessage> messages) => string.Join(",", messages.Select(m => Encoding.UTF8.GetString(m.Body)));

    [Theory]
    [InlineData("Direct", "DirectSocketTransportFactory")]
    [InlineData("Kestrel", "SocketTransportFactory")]
    public async Task Two_people_chat_through_the_sdk_on_either_transport(string transport, string listenerFactory)
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync("--Transport", transport);
        Assert.Equal(listenerFactory, server.Services.GetServices<IConnectionListenerFactory>().Single().GetType().Name);
        await using ChatClient alice = server.Client(Alice);
        await using ChatClient bob = server.Client(Bob);
        await alice.ConnectAsync();
        await bob.ConnectAsync();
        Assert.Equal(Alice, alice.UserId);

        AckMessage ack = await alice.SendToUserAsync(Bob, "hi Bob"u8.ToArray());
        ChatMessage received = (await NextAsync<MessageEvent>(bob)).Message;
        Assert.Equal((ack.Conversation, ack.Seq, Alice, "hi Bob"), (received.Conversation, received.Seq, received.Sender, Encoding.UTF8.GetString(received.Body)));

        await bob.SendAsync(received.Conversation, "hi Alice"u8.ToArray());
        Assert.Equal("hi Alice", Encoding.UTF8.GetString((await NextAsync<MessageEvent>(alice)).Message.Body));
        Assert.Equal(2, await bob.MarkReadAsync(received.Conversation, 2));
        Assert.Equal(new ReceiptEvent(received.Conversation, Bob, 2), await NextAsync<ReceiptEvent>(alice));
        Assert.Equal(new Dictionary<long, long> { [received.Conversation] = 2 }, await alice.GetPositionsAsync());
    }

    [Fact]
    public async Task Ids_the_sdk_gives_messages_count_up_behind_a_prefix_of_their_own_per_client()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using ChatClient alice = server.Client(Alice);
        await using ChatClient aliceElsewhere = server.Client(Alice);
        await using ChatClient bob = server.Client(Bob);
        await alice.ConnectAsync();
        await aliceElsewhere.ConnectAsync();
        await bob.ConnectAsync();

        var ids = new List<byte[]>();
        foreach (ChatClient sender in new[] { alice, alice, alice, aliceElsewhere })
        {
            await sender.SendToUserAsync(Bob, "x"u8.ToArray());
            ids.Add((await NextAsync<MessageEvent>(bob)).Message.ClientMessageId.ToByteArray(bigEndian: true));
        }

        static ulong Prefix(byte[] id) => System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(id);
        static ulong Counter(byte[] id) => System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(id.AsSpan(8));
        Assert.Equal(Prefix(ids[0]), Prefix(ids[1]));
        Assert.Equal(Prefix(ids[0]), Prefix(ids[2]));
        Assert.Equal(new ulong[] { 1, 2, 3 }, ids.Take(3).Select(Counter));
        Assert.NotEqual(Prefix(ids[0]), Prefix(ids[3])); // another client of the same user: another prefix
    }

    [Fact]
    public async Task After_a_dropped_connection_the_sdk_reconnects_and_emits_exactly_the_missed_messages_in_order()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using ChatClient alice = server.Client(Alice);
        await using ChatClient bob = server.Client(Bob, new ChatClientOptions { InitialReconnectDelay = TimeSpan.FromMilliseconds(50) });
        await alice.ConnectAsync();
        await bob.ConnectAsync();
        long conversation = (await alice.SendToUserAsync(Bob, "m0"u8.ToArray())).Conversation;
        await NextAsync<MessageEvent>(bob);

        // The server drops Bob; Alice keeps talking while he is away and while he reconnects.
        server.Node.Registry.SessionsOf(Bob).Single().Close(CloseCode.GoingAway, "test");
        for (int i = 1; i <= 30; i++)
        {
            await alice.SendAsync(conversation, Encoding.UTF8.GetBytes("m" + i));
        }

        List<ChatMessage> missed = await MessagesAsync(bob, conversation, 30);
        Assert.Equal(Enumerable.Range(2, 30).Select(i => (long)i), missed.Select(m => m.Seq));
        Assert.Equal(Enumerable.Range(1, 30).Select(i => "m" + i), missed.Select(m => Encoding.UTF8.GetString(m.Body)));
        await alice.SendAsync(conversation, "m31"u8.ToArray());
        Assert.Equal(32, (await NextAsync<MessageEvent>(bob)).Message.Seq); // and nothing repeated in between
    }

    [Fact]
    public async Task A_device_coming_back_with_its_positions_catches_up_including_on_a_group_created_while_it_was_away()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using ChatClient alice = server.Client(Alice);
        await alice.ConnectAsync();
        long direct = (await alice.SendToUserAsync(Carol, "one"u8.ToArray())).Conversation;

        IReadOnlyDictionary<long, long> saved;
        await using (ChatClient carolPhone = server.Client(Carol))
        {
            await carolPhone.ConnectAsync();
            await NextAsync<CaughtUpEvent>(carolPhone);
            saved = await carolPhone.GetPositionsAsync();
        }
        Assert.Equal(1, saved[direct]);

        await alice.SendAsync(direct, "two"u8.ToArray());
        long group = await alice.CreateGroupAsync([Carol]);
        await alice.SendAsync(group, "welcome"u8.ToArray());

        // Carol's laptop (another device, never connected) also catches up on its own, from the start.
        await using ChatClient carolAgain = server.Client(Carol, new ChatClientOptions { KnownPositions = saved });
        await using ChatClient carolLaptop = server.Client(Carol);
        await carolAgain.ConnectAsync();
        await carolLaptop.ConnectAsync();

        Dictionary<long, List<ChatMessage>> again = await MessagesAsync(carolAgain, (direct, 1), (group, 1));
        Dictionary<long, List<ChatMessage>> laptop = await MessagesAsync(carolLaptop, (direct, 2), (group, 1));
        Assert.Equal(("two", "welcome"), (Bodies(again[direct]), Bodies(again[group])));
        Assert.Equal(("one,two", "welcome"), (Bodies(laptop[direct]), Bodies(laptop[group])));
    }

    [Fact]
    public async Task A_send_retried_by_the_sdk_after_a_reconnect_is_stored_once()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using ChatClient alice = server.Client(Alice, new ChatClientOptions { InitialReconnectDelay = TimeSpan.FromMilliseconds(50) });
        await alice.ConnectAsync();
        Guid id = Guid.NewGuid();
        AckMessage first = await alice.SendToUserAsync(Bob, "once"u8.ToArray(), id);

        server.Node.Registry.SessionsOf(Alice).Single().Close(CloseCode.GoingAway, "test");
        await NextAsync<ConnectedEvent>(alice, e => e.Reconnected);
        AckMessage retried = await alice.SendToUserAsync(Bob, "once"u8.ToArray(), id);

        Assert.Equal((first.Conversation, first.Seq, true), (retried.Conversation, retried.Seq, retried.Duplicate));
        Assert.Single((await alice.SyncAsync(first.Conversation, 0, 10)).Messages);
    }

    [Fact]
    public async Task Server_errors_surface_as_ChatException_with_the_documented_code()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using ChatClient alice = server.Client(Alice);
        await alice.ConnectAsync();

        ChatException error = await Assert.ThrowsAsync<ChatException>(() => alice.SyncAsync(12345, 0, 10));
        Assert.Equal(ErrorCode.NotMember, error.Code);
    }
}
