using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Conformance;

/// <summary>Autobahn category 9 (limits and performance), scaled to the configured maximum message size.</summary>
public sealed class C9_LimitsTests
{
    private const int Max = 256 * 1024;

    [Theory]
    [InlineData(Max / 4)]
    [InlineData(Max / 2)]
    [InlineData(Max)]
    public async Task Messages_up_to_the_maximum_are_echoed(int length)
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.MaxMessageSize = Max);
        await using RawClient client = await RawClient.ConnectAsync(server.Port);
        byte[] payload = new byte[length];
        new Random(length).NextBytes(payload);

        await client.SendFrameAsync(WebSocketOpcode.Binary, payload);

        Assert.Equal(payload, (await client.ReceiveFrameAsync()).Payload);
    }

    [Fact]
    public async Task A_fragmented_message_up_to_the_maximum_is_echoed()
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.MaxMessageSize = Max);
        await using RawClient client = await RawClient.ConnectAsync(server.Port);
        byte[] payload = new byte[Max];
        new Random(9).NextBytes(payload);

        for (int i = 0; i < 16; i++)
        {
            WebSocketOpcode opcode = i == 0 ? WebSocketOpcode.Binary : WebSocketOpcode.Continuation;
            await client.SendFrameAsync(opcode, payload[(i * Max / 16)..((i + 1) * Max / 16)], fin: i == 15);
        }

        Assert.Equal(payload, (await client.ReceiveFrameAsync()).Payload);
    }

    [Fact]
    public async Task A_frame_declaring_more_than_the_maximum_fails_with_1009_before_its_payload()
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.MaxMessageSize = Max);
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        byte[] frame = RawClient.Frame(WebSocketOpcode.Binary, new byte[Max + 1]);
        await client.SendRawAsync(frame.AsMemory(0, 14)); // the header only

        Assert.Equal(WebSocketCloseCode.MessageTooBig, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task A_huge_declared_length_fails_with_1009()
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.MaxMessageSize = Max);
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        // 2^62 bytes declared: nothing is allocated or awaited for it.
        await client.SendRawAsync(new byte[] { 0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 });

        Assert.Equal(WebSocketCloseCode.MessageTooBig, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task Fragments_adding_up_to_more_than_the_maximum_fail_with_1009()
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.MaxMessageSize = Max);
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Binary, new byte[Max / 2], fin: false);
        await client.SendFrameAsync(WebSocketOpcode.Continuation, new byte[Max / 2], fin: false);
        await client.SendFrameAsync(WebSocketOpcode.Continuation, new byte[1], fin: true);

        Assert.Equal(WebSocketCloseCode.MessageTooBig, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task A_message_delivered_byte_by_byte_is_echoed()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);
        byte[] payload = System.Text.Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("byte-by-byte ü € 😀 ", 20)));

        await client.SendChunkedAsync(RawClient.Frame(WebSocketOpcode.Text, payload), 1);

        Assert.Equal(payload, (await client.ReceiveFrameAsync()).Payload);
    }

    [Fact]
    public async Task Many_messages_in_a_row_are_all_echoed_in_order()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        var all = new List<byte>();
        for (int i = 0; i < 1000; i++)
        {
            all.AddRange(RawClient.Frame(WebSocketOpcode.Binary, BitConverter.GetBytes(i)));
        }
        await client.SendChunkedAsync(all.ToArray(), 4093);

        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal(i, BitConverter.ToInt32((await client.ReceiveFrameAsync()).Payload));
        }
    }
}
