using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Conformance;

/// <summary>Autobahn category 2: pings are answered with the same payload, pongs are ignored.</summary>
public sealed class C2_PingPongTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(125)]
    public async Task Ping_is_answered_by_a_pong_with_the_same_payload(int length)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        byte[] payload = Enumerable.Range(0, length).Select(i => (byte)(255 - i)).ToArray();
        await client.SendFrameAsync(WebSocketOpcode.Ping, payload);

        ReceivedFrame pong = await client.ReceiveFrameAsync();
        Assert.Equal((WebSocketOpcode.Pong, true), (pong.Opcode, pong.Fin));
        Assert.Equal(payload, pong.Payload);
    }

    [Fact]
    public async Task Ten_pings_in_one_write_get_ten_pongs_in_order()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendRawAsync(Enumerable.Range(0, 10).SelectMany(i => RawClient.Frame(WebSocketOpcode.Ping, [(byte)i])).ToArray());

        for (int i = 0; i < 10; i++)
        {
            ReceivedFrame pong = await client.ReceiveFrameAsync();
            Assert.Equal(WebSocketOpcode.Pong, pong.Opcode);
            Assert.Equal([(byte)i], pong.Payload);
        }
    }

    [Fact]
    public async Task Ping_longer_than_125_bytes_fails_with_1002()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Ping, new byte[126]);

        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task Unsolicited_pong_is_ignored()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Pong, "unsolicited"u8.ToArray());
        await client.SendTextAsync("after");

        // The first thing back is the echo: nothing was sent for the pong.
        ReceivedFrame next = await client.ReceiveFrameAsync();
        Assert.Equal((WebSocketOpcode.Text, "after"), (next.Opcode, next.Text));
    }
}

/// <summary>Server-initiated keep-alive pings (deadline-driven).</summary>
[Collection(TimingCollection.Name)]
public sealed class C2_KeepAliveTests
{
    [Fact]
    public async Task A_silent_connection_is_pinged_by_the_server()
    {
        await using EchoServer server = await EchoServer.StartAsync(o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
            o.IdleTimeout = TimeSpan.FromSeconds(30);
        });
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        ReceivedFrame ping = await client.ReceiveFrameAsync();

        Assert.Equal(WebSocketOpcode.Ping, ping.Opcode);
        Assert.Empty(ping.Payload);
    }
}
