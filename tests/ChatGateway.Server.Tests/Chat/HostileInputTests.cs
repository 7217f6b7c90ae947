using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using ChatGateway.Protocol;
using MessagePack;

namespace ChatGateway.Server.Tests.Chat;

public sealed class HostileInputTests
{
    private const long Attacker = 3001, Victim = 3002, Friend = 3003;

    private static byte[] Bytes(Action<MessagePackWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var w = new MessagePackWriter(buffer);
        write(w);
        return buffer.WrittenSpan.ToArray();
    }

    public static TheoryData<string, byte[], string> Frames()
    {
        byte[] validSend = Bytes(w => { w.WriteArrayHeader(6); w.Write(1); w.Write(9u); w.Write(5L); w.Write(0L); w.Write(new byte[16]); w.Write(new byte[100]); w.Flush(); });
        var nested = new List<byte>(Bytes(w => { w.WriteArrayHeader(3); w.Write(11); w.Write(9u); w.Flush(); }));
        nested.AddRange(Enumerable.Repeat((byte)0x91, 1000)); // [[[[...]]]]
        nested.Add(0xc0);
        return new TheoryData<string, byte[], string>
        {
            { "random garbage", [0xde, 0xad, 0xbe, 0xef, 0x00, 0xff], ErrorCode.Malformed },
            { "not an array", Bytes(w => { w.Write("hello"); w.Flush(); }), ErrorCode.Malformed },
            { "empty array", Bytes(w => { w.WriteArrayHeader(0); w.Flush(); }), ErrorCode.Malformed },
            { "unknown type", Bytes(w => { w.WriteArrayHeader(2); w.Write(63); w.Write(9u); w.Flush(); }), ErrorCode.Malformed },
            { "server type sent by a client", Bytes(w => { w.WriteArrayHeader(2); w.Write(66); w.Write(9u); w.Flush(); }), ErrorCode.Malformed },
            { "type out of range", Bytes(w => { w.WriteArrayHeader(2); w.Write(100000); w.Write(9u); w.Flush(); }), ErrorCode.Malformed },
            { "truncated Send", validSend[..^50], ErrorCode.Malformed },
            { "missing fields", Bytes(w => { w.WriteArrayHeader(3); w.Write(1); w.Write(9u); w.Write(5L); w.Flush(); }), ErrorCode.Malformed },
            { "string where an integer goes", Bytes(w => { w.WriteArrayHeader(5); w.Write(2); w.Write(9u); w.Write("five"); w.Write(0); w.Write(10); w.Flush(); }), ErrorCode.Malformed },
            { "negative request id", Bytes(w => { w.WriteArrayHeader(2); w.Write(11); w.Write(-1); w.Flush(); }), ErrorCode.Malformed },
            { "bin32 declaring 4 GiB", [0x96, 0x01, 0x09, 0x05, 0x00, 0xc4, 0x00, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02], ErrorCode.Malformed },
            { "array32 declaring 2^31 members", [0x93, 0x05, 0x09, 0xdd, 0x80, 0x00, 0x00, 0x00, 0x01], ErrorCode.Malformed },
            { "more members than the group limit", Bytes(w => { w.WriteArrayHeader(3); w.Write(5); w.Write(9u); w.WriteArrayHeader(1001); for (int i = 1; i <= 1001; i++) { w.Write(i); } w.Flush(); }), ErrorCode.BadRequest },
            { "map32 declaring 2^32-1 pairs in a trailing field", [0x93, 0x0b, 0x09, 0xdf, 0xff, 0xff, 0xff, 0xff, 0x01], ErrorCode.Malformed },
            { "1000-deep nesting in a trailing field", [.. nested], ErrorCode.Malformed },
            { "client message id over 16 bytes", Bytes(w => { w.WriteArrayHeader(6); w.Write(1); w.Write(9u); w.Write(5L); w.Write(0L); w.Write(new byte[17]); w.Write(new byte[1]); w.Flush(); }), ErrorCode.BadRequest },
            { "both targets of a Send", Bytes(w => { w.WriteArrayHeader(6); w.Write(1); w.Write(9u); w.Write(5L); w.Write(6L); w.Write(new byte[16]); w.Write(new byte[1]); w.Flush(); }), ErrorCode.BadRequest },
            { "bytes after the message", [.. Bytes(w => { w.WriteArrayHeader(2); w.Write(11); w.Write(9u); w.Flush(); }), 0x01], ErrorCode.Malformed },
        };
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public async Task A_hostile_frame_gets_an_error_and_neither_the_connection_nor_other_sessions_suffer(string why, byte[] frame, string code)
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient attacker = await server.ConnectRawAsync(Attacker);
        await using RawChatClient victim = await server.ConnectRawAsync(Victim);
        await using RawChatClient friend = await server.ConnectRawAsync(Friend);
        long conversation = (await victim.SendMessageAsync(0, "before", toUser: Friend)).Conversation;
        await friend.ReceiveAsync<DeliverMessage>();

        await attacker.SendRawAsync(frame);
        var error = await attacker.ReceiveAsync<ErrorMessage>();
        Assert.True(code == error.Code, $"{why}: expected {code}, got {error.Code} ({error.Text})");

        // The attacker's connection still works, and so does everyone else's.
        uint rid = await attacker.SendAsync((o, r) => ClientRequestWriter.Heartbeat(o, r));
        Assert.IsType<OkMessage>(await attacker.ReplyAsync(rid));
        AckMessage ack = await victim.SendMessageAsync(conversation, "after");
        Assert.Equal(ack.Seq, (await friend.ReceiveAsync<DeliverMessage>()).Message.Seq);
    }

    [Fact]
    public async Task A_text_frame_closes_the_connection_with_1003()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient client = await server.ConnectRawAsync(Attacker);

        await client.SendRawAsync("{\"type\":\"send\"}"u8.ToArray(), WebSocketMessageType.Text);

        Assert.Equal((WebSocketCloseStatus)CloseCode.UnsupportedData, await client.WaitClosedAsync());
    }

    [Fact]
    public async Task A_client_that_keeps_sending_garbage_is_closed_with_1008()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync("--Chat:MaxViolations", "5");
        await using RawChatClient client = await server.ConnectRawAsync(Attacker);

        for (int i = 0; i < 6; i++)
        {
            await client.SendRawAsync(new byte[] { 0xc1 }); // 0xc1 is never used in MessagePack
        }

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.WaitClosedAsync());
        await using RawChatClient other = await server.ConnectRawAsync(Victim);
        Assert.Equal(Victim, other.Hello.User);
    }

    [Fact]
    public async Task Over_the_rate_a_request_is_refused_with_rate_limited_and_persistent_abuse_closes_with_1008()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync(
            "--Chat:RateMessagesPerSecond", "1", "--Chat:RateMessagesBurst", "3", "--Chat:MaxViolations", "4");
        await using RawChatClient client = await server.ConnectRawAsync(Attacker);

        var answers = new List<ServerMessage>();
        for (int i = 0; i < 4; i++)
        {
            uint rid = await client.SendAsync((o, r) => ClientRequestWriter.Heartbeat(o, r));
            answers.Add(await client.ReplyAsync(rid));
        }
        Assert.All(answers[..3], a => Assert.IsType<OkMessage>(a));
        Assert.Equal(ErrorCode.RateLimited, Assert.IsType<ErrorMessage>(answers[3]).Code);

        for (int i = 0; i < 10; i++)
        {
            try
            {
                await client.SendAsync((o, r) => ClientRequestWriter.Heartbeat(o, r));
            }
            catch (WebSocketException)
            {
                break; // already closed
            }
        }
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.WaitClosedAsync());
    }
}
