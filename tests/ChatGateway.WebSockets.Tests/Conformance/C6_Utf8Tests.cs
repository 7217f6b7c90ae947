using System.Text;
using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Conformance;

/// <summary>Autobahn category 6: text must be UTF-8; invalid text fails with 1007 as soon as it arrives.</summary>
public sealed class C6_Utf8Tests
{
    public static TheoryData<string> ValidHex => new()
    {
        "48656c6c6f2dc2b540c39fc3b6c3a4c3bcc3a0c3a12d5554462d382121", // Hello-µ@ßöäüàá-UTF-8!!
        "cebae1bdb9cf83cebcceb5",                                     // κόσμε
        "f09f9880",                                                   // U+1F600
        "ed9fbf", "ee8080", "efbfbd", "efbfbf",                       // U+D7FF, U+E000, U+FFFD, U+FFFF
        "f48fbfbf",                                                   // U+10FFFF, the last code point
        "00", "7f", "c280", "e0a080", "f0908080",                     // the first of each length
    };

    public static TheoryData<string> InvalidHex => new()
    {
        "80", "bf", "c0", "c1", "f5", "ff",                           // bytes that cannot start a sequence
        "c080", "c1bf", "e08080", "f0808080",                         // overlong encodings
        "eda080", "edbfbf",                                           // UTF-16 surrogates
        "f4908080", "f7bfbfbf",                                       // above U+10FFFF
        "cebae1bdb9cf83cebcceb5eda080656469746564",                   // κόσμε then a surrogate (Autobahn 6.3.1)
        "e282",                                                       // ends inside a code point
        "c2", "f0908f",
    };

    [Theory]
    [MemberData(nameof(ValidHex))]
    public async Task Valid_text_is_echoed(string hex)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);
        byte[] bytes = Convert.FromHexString(hex);

        await client.SendFrameAsync(WebSocketOpcode.Text, bytes);

        Assert.Equal(bytes, (await client.ReceiveFrameAsync()).Payload);
    }

    [Theory]
    [MemberData(nameof(InvalidHex))]
    public async Task Invalid_text_fails_with_1007(string hex)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Text, Convert.FromHexString(hex));

        Assert.Equal(WebSocketCloseCode.InvalidPayloadData, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task Invalid_binary_is_not_text_and_is_echoed()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Binary, [0xED, 0xA0, 0x80, 0xFF]);

        Assert.Equal(new byte[] { 0xED, 0xA0, 0x80, 0xFF }, (await client.ReceiveFrameAsync()).Payload);
    }

    [Fact]
    public async Task Valid_text_split_at_every_byte_into_two_fragments_is_echoed()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);
        byte[] text = Encoding.UTF8.GetBytes("aé€😀z");

        for (int split = 0; split <= text.Length; split++)
        {
            await client.SendFrameAsync(WebSocketOpcode.Text, text[..split], fin: false);
            await client.SendFrameAsync(WebSocketOpcode.Continuation, text[split..], fin: true);
            Assert.Equal(text, (await client.ReceiveFrameAsync()).Payload);
        }
    }

    [Fact]
    public async Task A_code_point_split_over_three_fragments_is_echoed()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Text, [(byte)'a', 0xE2], fin: false);
        await client.SendFrameAsync(WebSocketOpcode.Continuation, [0x82], fin: false);
        await client.SendFrameAsync(WebSocketOpcode.Continuation, [0xAC, (byte)'b'], fin: true);

        Assert.Equal("a€b", (await client.ReceiveFrameAsync()).Text);
    }

    [Fact]
    public async Task Invalid_fragment_fails_before_the_message_is_finished()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        // Autobahn 6.4.1: valid part, then a fragment that makes it invalid; the final fragment is never sent.
        await client.SendFrameAsync(WebSocketOpcode.Text, "κόσμε"u8.ToArray(), fin: false);
        await client.SendFrameAsync(WebSocketOpcode.Continuation, Convert.FromHexString("f4908080"), fin: false);

        Assert.Equal(WebSocketCloseCode.InvalidPayloadData, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task An_invalid_code_point_split_across_fragments_fails_on_the_fragment_that_completes_it()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Text, [(byte)'a', 0xF4], fin: false);  // F4 may still be valid
        await client.SendFrameAsync(WebSocketOpcode.Continuation, [0x90], fin: false);     // F4 90: above U+10FFFF

        Assert.Equal(WebSocketCloseCode.InvalidPayloadData, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task Invalid_bytes_fail_within_a_frame_whose_rest_never_arrives()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        // Autobahn 6.4.3: one 100-byte frame; only its first 20 bytes are sent, and they are invalid.
        byte[] payload = Encoding.ASCII.GetBytes(new string('x', 100));
        Convert.FromHexString("eda080").CopyTo(payload, 10);
        byte[] frame = RawClient.Frame(WebSocketOpcode.Text, payload);
        await client.SendRawAsync(frame.AsMemory(0, 2 + 4 + 20));

        Assert.Equal(WebSocketCloseCode.InvalidPayloadData, await client.ExpectCloseAsync());
    }
}
