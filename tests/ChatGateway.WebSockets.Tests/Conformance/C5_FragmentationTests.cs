using System.Text;
using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Conformance;

/// <summary>Autobahn category 5: fragmented messages, control frames between fragments, bad continuations.</summary>
public sealed class C5_FragmentationTests
{
    [Theory]
    [InlineData(WebSocketOpcode.Text)]
    [InlineData(WebSocketOpcode.Binary)]
    public async Task A_message_in_fragments_is_echoed_as_one_message(WebSocketOpcode type)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(type, "frag"u8.ToArray(), fin: false);
        await client.SendFrameAsync(WebSocketOpcode.Continuation, "men"u8.ToArray(), fin: false);
        await client.SendFrameAsync(WebSocketOpcode.Continuation, "ted"u8.ToArray(), fin: true);

        ReceivedFrame echoed = await client.ReceiveFrameAsync();
        Assert.Equal((type, true, "fragmented"), (echoed.Opcode, echoed.Fin, echoed.Text));
    }

    [Fact]
    public async Task Many_one_byte_fragments_including_empty_ones_are_reassembled()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        string text = "one byte at a time";
        var frames = new List<byte>();
        frames.AddRange(RawClient.Frame(WebSocketOpcode.Text, [], fin: false));
        foreach (char c in text)
        {
            frames.AddRange(RawClient.Frame(WebSocketOpcode.Continuation, [(byte)c], fin: false));
        }
        frames.AddRange(RawClient.Frame(WebSocketOpcode.Continuation, [], fin: true));
        await client.SendRawAsync(frames.ToArray());

        Assert.Equal(text, (await client.ReceiveFrameAsync()).Text);
    }

    [Fact]
    public async Task Ping_between_fragments_is_answered_before_the_message_completes()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Text, "first "u8.ToArray(), fin: false);
        await client.SendFrameAsync(WebSocketOpcode.Ping, "in between"u8.ToArray());
        ReceivedFrame pong = await client.ReceiveFrameAsync();
        Assert.Equal((WebSocketOpcode.Pong, "in between"), (pong.Opcode, pong.Text));

        await client.SendFrameAsync(WebSocketOpcode.Pong, "ignored"u8.ToArray());
        await client.SendFrameAsync(WebSocketOpcode.Continuation, "second"u8.ToArray(), fin: true);
        Assert.Equal("first second", (await client.ReceiveFrameAsync()).Text);
    }

    [Fact]
    public async Task Continuation_without_an_open_message_fails_with_1002()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Continuation, "orphan"u8.ToArray(), fin: true);

        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task Continuation_after_a_finished_message_fails_with_1002()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendTextAsync("done");
        Assert.Equal("done", (await client.ReceiveFrameAsync()).Text);
        await client.SendFrameAsync(WebSocketOpcode.Continuation, "late"u8.ToArray(), fin: false);

        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }

    [Theory]
    [InlineData(WebSocketOpcode.Text)]
    [InlineData(WebSocketOpcode.Binary)]
    public async Task A_new_data_frame_while_a_message_is_open_fails_with_1002(WebSocketOpcode second)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Text, "open"u8.ToArray(), fin: false);
        await client.SendFrameAsync(second, "again"u8.ToArray(), fin: true);

        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }

    [Theory]
    [InlineData(WebSocketOpcode.Ping)]
    [InlineData(WebSocketOpcode.Pong)]
    [InlineData(WebSocketOpcode.Close)]
    public async Task A_fragmented_control_frame_fails_with_1002(WebSocketOpcode control)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(control, control == WebSocketOpcode.Close ? [0x03, 0xE8] : "ctl"u8.ToArray(), fin: false);

        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task Fragments_sent_byte_by_byte_are_reassembled()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        byte[] frames = RawClient.Frame(WebSocketOpcode.Text, Encoding.UTF8.GetBytes("héllo "), fin: false)
            .Concat(RawClient.Frame(WebSocketOpcode.Continuation, Encoding.UTF8.GetBytes("wörld"), fin: true)).ToArray();
        await client.SendChunkedAsync(frames, 1);

        Assert.Equal("héllo wörld", (await client.ReceiveFrameAsync()).Text);
    }
}
