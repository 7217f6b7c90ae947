using System.Net.WebSockets;
using ChatGateway.Protocol;

namespace ChatGateway.Server.Tests.Chat;

public sealed class BackpressureTests
{
    private const long Sender = 4001, Fast = 4002, Slow = 4003;

    [Fact]
    public async Task A_client_that_stops_reading_is_closed_with_4008_while_the_others_keep_receiving()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync(
            "--Chat:MaxQueuedFrames", "256", "--Chat:MaxPageBytes", "65536", "--Chat:MaxBodyBytes", "32768", "--Chat:MaxQueuedBytes", "1048576",
            "--WebSockets:CloseTimeout", "00:01:00",
            "--Chat:RateMessagesPerSecond", "1000000", "--Chat:RateMessagesBurst", "1000000",
            "--Chat:RateBytesPerSecond", "1000000000", "--Chat:RateBytesBurst", "1000000000");
        await using RawChatClient sender = await server.ConnectRawAsync(Sender);
        await using RawChatClient fast = await server.ConnectRawAsync(Fast);
        await using RawChatClient slow = await server.ConnectRawAsync(Slow);
        uint rid = await sender.SendAsync((o, r) => ClientRequestWriter.CreateGroup(o, r, [Fast, Slow]));
        long group = Assert.IsType<OkMessage>(await sender.ReplyAsync(rid)).Value;
        await fast.ReceiveAsync<MembershipMessage>();

        // 48 MiB of messages: more than loopback socket buffers, Kestrel's output buffer and the 1 MiB queue hold.
        const int count = 1536;
        byte[] body = new byte[32 * 1024];
        // Four in flight, paced by the fast member's reading: it never has more than 128 KiB on its way (an
        // eighth of its bound), while the member that reads nothing falls further behind with every round.
        long expected = 1;
        for (int i = 0; i < count; i += 4)
        {
            for (int k = 0; k < 4; k++)
            {
                await sender.SendAsync((o, r) => ClientRequestWriter.Send(o, r, group, 0, [], body));
            }
            for (int k = 0; k < 4; k++)
            {
                Assert.Equal(expected++, (await fast.ReceiveAsync<DeliverMessage>()).Message.Seq); // every message, in order
                await sender.ReceiveAsync<AckMessage>();
            }
        }

        // The slow member, reading at last, finds the close its overflow caused after what was already on its way.
        Assert.Equal((WebSocketCloseStatus)CloseCode.SlowConsumer, await slow.WaitClosedAsync());
        Assert.All(server.Node.Registry.SessionsOf(Slow), s => Assert.True(s.IsClosing)); // unregistered once the close handshake ends
    }

    [Fact]
    public async Task One_session_too_many_closes_the_users_oldest_with_4002()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync("--Chat:MaxSessionsPerUser", "2");
        await using RawChatClient first = await server.ConnectRawAsync(Sender);
        await using RawChatClient second = await server.ConnectRawAsync(Sender);
        await using RawChatClient third = await server.ConnectRawAsync(Sender);

        Assert.Equal((WebSocketCloseStatus)CloseCode.SessionLimit, await first.WaitClosedAsync());
        uint rid = await second.SendAsync((o, r) => ClientRequestWriter.Heartbeat(o, r));
        Assert.IsType<OkMessage>(await second.ReplyAsync(rid));
        Assert.Equal(2, server.Node.Registry.SessionsOf(Sender).Length);
    }
}
