using System.Text;
using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Conformance;

/// <summary>Autobahn category 7: the close handshake and close payload rules.</summary>
public sealed class C7_CloseTests
{
    [Theory]
    [InlineData(1000)]
    [InlineData(1001)]
    [InlineData(1002)]
    [InlineData(1003)]
    [InlineData(1007)]
    [InlineData(1008)]
    [InlineData(1009)]
    [InlineData(1010)]
    [InlineData(1011)]
    [InlineData(3000)]
    [InlineData(3999)]
    [InlineData(4000)]
    [InlineData(4999)]
    public async Task A_valid_close_code_is_echoed_then_TCP_closes(int code)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendCloseAsync((ushort)code, "bye");

        Assert.Equal(code, await client.ExpectCloseAsync());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(999)]
    [InlineData(1004)]
    [InlineData(1005)]
    [InlineData(1006)]
    [InlineData(1015)]
    [InlineData(1016)]
    [InlineData(1100)]
    [InlineData(2000)]
    [InlineData(2999)]
    [InlineData(5000)]
    [InlineData(65535)]
    public async Task An_invalid_close_code_fails_with_1002(int code)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendCloseAsync((ushort)code);

        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task An_empty_close_is_answered_with_an_empty_close()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Close, []);

        ReceivedFrame close = await client.ReceiveFrameAsync();
        Assert.Equal(WebSocketOpcode.Close, close.Opcode);
        Assert.Empty(close.Payload);
        await client.ExpectEndOfStreamAsync();
    }

    [Fact]
    public async Task A_one_byte_close_payload_fails_with_1002()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Close, [0x03]);

        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task A_close_reason_that_is_not_UTF8_fails_with_1007()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Close, [0x03, 0xE8, 0xCE, 0xBA, 0xED, 0xA0, 0x80]);

        Assert.Equal(WebSocketCloseCode.InvalidPayloadData, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task A_close_with_the_longest_reason_is_echoed()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendCloseAsync(1000, new string('r', 123));

        Assert.Equal(1000, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task Frames_after_the_close_are_not_processed()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        byte[] close = RawClient.Frame(WebSocketOpcode.Close, [0x03, 0xE8]);
        byte[] after = RawClient.Frame(WebSocketOpcode.Text, Encoding.UTF8.GetBytes("after close"));
        await client.SendRawAsync(close.Concat(after).ToArray());

        ReceivedFrame first = await client.ReceiveFrameAsync();
        Assert.Equal((WebSocketOpcode.Close, (ushort)1000), (first.Opcode, first.CloseCode));
        await client.ExpectEndOfStreamAsync();
    }

    [Fact]
    public async Task A_message_before_the_close_is_echoed_first()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendRawAsync(RawClient.Frame(WebSocketOpcode.Text, "last words"u8.ToArray())
            .Concat(RawClient.Frame(WebSocketOpcode.Close, [0x03, 0xE8])).ToArray());

        Assert.Equal("last words", (await client.ReceiveFrameAsync()).Text);
        Assert.Equal(1000, await client.ExpectCloseAsync());
    }
}

/// <summary>Autobahn category 7, the parts driven by deadlines: idle close and keep-alive pings.</summary>
[Collection(TimingCollection.Name)]
public sealed class C7_IdleTests
{
    [Fact]
    public async Task An_idle_connection_is_closed_with_1001()
    {
        await using EchoServer server = await EchoServer.StartAsync(o =>
        {
            o.IdleTimeout = TimeSpan.FromMilliseconds(300);
            o.KeepAliveInterval = TimeSpan.Zero;
        });
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        Assert.Equal(WebSocketCloseCode.GoingAway, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task Answering_the_servers_pings_keeps_a_silent_connection_open()
    {
        var idle = TimeSpan.FromSeconds(1);
        await using EchoServer server = await EchoServer.StartAsync(o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            o.IdleTimeout = idle;
        });
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        // Answer pings (and send nothing else) for well past the idle timeout: the pongs alone keep it open.
        var silentFor = System.Diagnostics.Stopwatch.StartNew();
        while (silentFor.Elapsed < idle * 2.5)
        {
            ReceivedFrame ping = await client.ReceiveFrameAsync();
            Assert.Equal(WebSocketOpcode.Ping, ping.Opcode);
            await client.SendFrameAsync(WebSocketOpcode.Pong, ping.Payload);
        }
        await client.SendTextAsync("still here");
        ReceivedFrame echo;
        do
        {
            echo = await client.ReceiveFrameAsync();
        }
        while (echo.Opcode == WebSocketOpcode.Ping);
        Assert.Equal("still here", echo.Text);
    }
}
