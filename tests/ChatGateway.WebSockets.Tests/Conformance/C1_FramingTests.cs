using System.Buffers.Binary;
using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Conformance;

/// <summary>Autobahn category 1: framing, payload lengths at the 7/16/64-bit boundaries, masking.</summary>
public sealed class C1_FramingTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(127)]
    [InlineData(128)]
    [InlineData(65535)]
    [InlineData(65536)]
    public async Task Text_and_binary_payloads_are_echoed_exactly(int length)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        string text = new string('*', length);
        await client.SendTextAsync(text);
        ReceivedFrame echoedText = await client.ReceiveFrameAsync();
        Assert.Equal((WebSocketOpcode.Text, true, false), (echoedText.Opcode, echoedText.Fin, echoedText.Masked));
        Assert.Equal(text, echoedText.Text);

        byte[] binary = new byte[length];
        new Random(length).NextBytes(binary);
        await client.SendFrameAsync(WebSocketOpcode.Binary, binary);
        ReceivedFrame echoedBinary = await client.ReceiveFrameAsync();
        Assert.Equal(WebSocketOpcode.Binary, echoedBinary.Opcode);
        Assert.Equal(binary, echoedBinary.Payload);
        Assert.Equal(0, echoedBinary.Reserved);
    }

    [Fact]
    public async Task A_64_KiB_message_arriving_in_997_byte_chunks_is_echoed()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        byte[] payload = new byte[64 * 1024];
        new Random(997).NextBytes(payload);
        await client.SendChunkedAsync(RawClient.Frame(WebSocketOpcode.Binary, payload), 997);

        Assert.Equal(payload, (await client.ReceiveFrameAsync()).Payload);
    }

    [Fact]
    public async Task Several_frames_in_one_TCP_write_are_each_echoed_in_order()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        byte[] all = Enumerable.Range(0, 20).SelectMany(i => RawClient.Frame(WebSocketOpcode.Text, System.Text.Encoding.UTF8.GetBytes($"m{i}"))).ToArray();
        await client.SendRawAsync(all);

        for (int i = 0; i < 20; i++)
        {
            Assert.Equal($"m{i}", (await client.ReceiveFrameAsync()).Text);
        }
    }

    [Fact]
    public async Task An_unmasked_client_frame_fails_with_1002()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendFrameAsync(WebSocketOpcode.Text, "hi"u8.ToArray(), masked: false);

        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }

    [Theory]
    [InlineData(new byte[] { 0x82, 0xFE, 0x00, 0x7D })]                                           // 16-bit length for 125 bytes
    [InlineData(new byte[] { 0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF })]                        // 64-bit length for 65535 bytes
    [InlineData(new byte[] { 0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0x01 })]                        // 64-bit length with the top bit set
    public async Task Lengths_not_minimally_encoded_or_with_the_top_bit_set_fail_with_1002(byte[] header)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        await client.SendRawAsync(header.Concat(new byte[] { 1, 2, 3, 4 }).ToArray()); // header + mask key

        Assert.Equal(WebSocketCloseCode.ProtocolError, await client.ExpectCloseAsync());
    }

    [Fact]
    public async Task Header_split_across_TCP_writes_is_reassembled()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.ConnectAsync(server.Port);

        byte[] payload = new byte[300];
        new Random(3).NextBytes(payload);
        byte[] frame = RawClient.Frame(WebSocketOpcode.Binary, payload);
        await client.SendChunkedAsync(frame, 3); // the 8-byte header arrives in three reads

        ReceivedFrame echoed = await client.ReceiveFrameAsync();
        Assert.Equal(payload, echoed.Payload);
        Assert.Equal(300, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(2)));
    }
}
