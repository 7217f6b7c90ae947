using ChatGateway.Protocol;
using ChatGateway.Server.Messaging;

namespace ChatGateway.Server.Tests.Chat;

/// <summary>
/// A sequencer shard finishes its requests on its store's writer, in order. Held there (by a requester that
/// blocks, which real sessions never do), it shows its bound: past <c>Chat:SequencerQueueDepth</c> in flight a
/// send is answered <c>busy</c> at once, and everything it took is committed and acknowledged in order afterwards.
/// </summary>
public sealed class SequencerTests
{
    private const long A = 1, D = 4;

    [Fact]
    public async Task A_shard_with_its_limit_in_flight_answers_busy_at_once_and_acks_what_it_took_in_seq_order()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync("--Chat:SequencerQueueDepth", "16");
        await using RawChatClient a = await server.ConnectRawAsync(A);
        long conversation = (await a.SendMessageAsync(0, "first", toUser: D)).Conversation;
        Sequencer shard = server.Node.SequencerOf(conversation);

        using var release = new ManualResetEventSlim();
        var holder = new HoldingRequester(release);
        Assert.True(shard.TrySubmit(new SequencerWork { Kind = WorkKind.Read, Origin = holder, User = A, Conversation = conversation, Seq = 1 }));
        await holder.Entered.Task.WaitAsync(RawChatClient.Timeout); // the writer is now inside the read's answer

        const int Sends = 20;
        var rids = new uint[Sends];
        for (int i = 0; i < Sends; i++)
        {
            byte[] id = Guid.NewGuid().ToByteArray(bigEndian: true);
            rids[i] = await a.SendAsync((o, r) => ClientRequestWriter.Send(o, r, conversation, 0, id, "m"u8));
        }
        // One in flight already: 15 more are taken, the last 5 refused without waiting for the writer.
        for (int i = 15; i < Sends; i++)
        {
            var busy = Assert.IsType<ErrorMessage>(await a.ReceiveAsync());
            Assert.Equal((rids[i], ErrorCode.Busy), (busy.RequestId, busy.Code));
        }

        release.Set();
        for (int i = 0; i < 15; i++)
        {
            AckMessage ack = await a.ReceiveAsync<AckMessage>(); // after the held read's receipt
            Assert.Equal((rids[i], i + 2L), (ack.RequestId, ack.Seq));
        }
        Assert.Equal(17, (await a.SendMessageAsync(conversation, "after")).Seq); // nothing held: taken again
    }

    /// <summary>Blocks the thread that answers it (the shard's writer) until released.</summary>
    private sealed class HoldingRequester(ManualResetEventSlim release) : IRequester
    {
        public readonly TaskCompletionSource Entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void SendAck(uint rid, long conversation, long seq, long timestamp, bool duplicate) => Hold();

        public void SendOk(uint rid, long value) => Hold();

        public void SendError(uint rid, string code, string message) => Hold();

        private void Hold()
        {
            Entered.TrySetResult();
            release.Wait(RawChatClient.Timeout);
        }
    }
}
