using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Conformance;

/// <summary>Autobahn category 3: no extension is negotiated, so every RSV bit must be clear.</summary>
public sealed class C3_ReservedBitsTests
{
    [Theory]
    [InlineData(1, WebSocketOpcode.Text)]
    [InlineData(2, WebSocketOpcode.Text)]
    [InlineData(3, WebSocketOpcode.Text)]
    [InlineData(4, WebSocketOpcode.Text)]   // RSV1: what a compressed frame would carry
    [InlineData(5, WebSocketOpcode.Binary)]
    [InlineData(6, WebSocketOpcode.Ping)]
    [InlineData(7, WebSocketOpcode.Close)]
    public async Task Any_reserved_bit_fails_with_1002(byte reserved, WebSocketOpcode opcode)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(opcode, opcode == WebSocketOpcode.Close ? [0x03, 0xE8] : "x"u8.ToArray(), reserved: reserved);

        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task A_valid_message_before_the_bad_frame_is_still_echoed()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendRawAsync(RawClient.Frame(WebSocketOpcode.Text, "ok"u8.ToArray())
            .Concat(RawClient.Frame(WebSocketOpcode.Text, "bad"u8.ToArray(), reserved: 1)).ToArray());

        Assert.Equal("ok", (await client.ReceiveFrameAsync()).Text);
        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }
}
