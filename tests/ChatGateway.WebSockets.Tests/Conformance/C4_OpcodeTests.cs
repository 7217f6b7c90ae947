using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Conformance;

/// <summary>Autobahn category 4: reserved opcodes fail the connection.</summary>
public sealed class C4_OpcodeTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    [InlineData(15)]
    public async Task Reserved_opcode_fails_with_1002(byte opcode)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync((WebSocketOpcode)opcode, "payload"u8.ToArray());

        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }
}
