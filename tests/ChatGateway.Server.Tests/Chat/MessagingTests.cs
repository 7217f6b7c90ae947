using System.Text;
using ChatGateway.Protocol;

namespace ChatGateway.Server.Tests.Chat;

public sealed class MessagingTests
{
    private const long A = 1001, B = 1002, C = 1003, D = 1004;

    [Fact]
    public async Task A_message_to_an_online_user_is_acked_then_delivered_with_the_same_seq()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient a = await server.ConnectRawAsync(A);
        await using RawChatClient d = await server.ConnectRawAsync(D);
        Assert.Equal(A, a.Hello.User);

        AckMessage ack = await a.SendMessageAsync(0, "hello D", toUser: D);
        DeliverMessage deliver = await d.ReceiveAsync<DeliverMessage>();

        Assert.Equal(1, ack.Seq);
        Assert.False(ack.Duplicate);
        Assert.True(ConversationId.IsDirect(ack.Conversation));
        Assert.Equal((ack.Conversation, 1L, A, ack.Timestamp), (deliver.Message.Conversation, deliver.Message.Seq, deliver.Message.Sender, deliver.Message.Timestamp));
        Assert.Equal("hello D", Encoding.UTF8.GetString(deliver.Message.Body));
    }
}
