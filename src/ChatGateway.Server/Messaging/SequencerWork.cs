using ChatGateway.Storage;

namespace ChatGateway.Server.Messaging;

/// <summary>What a sequencer does with a request, in the order it was accepted.</summary>
public enum WorkKind : byte
{
    /// <summary>Append a message (to the 1:1 conversation with <see cref="SequencerWork.Peer"/> when set, created by the first one).</summary>
    Send,
    CreateGroup,
    AddMembers,
    RemoveMembers,
    Leave,
    Read,
}

/// <summary>
/// One request on its way through a sequencer shard: made by a session, queued on the shard's store with itself as
/// the callback (which fixes its place in the shard's order), and finished on the store's writer, in that same
/// order, by <see cref="Sequencer"/> (ack, fan-out).
/// </summary>
public sealed class SequencerWork : IWriteCallback
{
    private const int MaxPooled = 16_384;
    private static readonly System.Collections.Concurrent.ConcurrentQueue<SequencerWork> Pool = new();

    /// <summary>A cleared work item, from the pool when one is free: steady-state sends allocate none.</summary>
    public static SequencerWork Rent() => Pool.TryDequeue(out SequencerWork? work) ? work : new SequencerWork();

    /// <summary>A Send: <paramref name="frame"/> holds the Deliver template whose last <paramref name="bodyLength"/> payload bytes are the body.</summary>
    public static SequencerWork RentSend(IRequester origin, uint requestId, long conversation, long sender, long peer, ClientMessageId clientId,
        Sessions.OutboundFrame frame, int bodyLength)
    {
        SequencerWork work = Rent();
        work.Kind = WorkKind.Send;
        work.Origin = origin;
        work.RequestId = requestId;
        work.Conversation = conversation;
        work.User = sender;
        work.Peer = peer;
        work.ClientId = clientId;
        work.Frame = frame;
        work.BodyLength = bodyLength;
        return work;
    }

    /// <summary>Back to the pool, once its sequencer is done with it (its frame already released).</summary>
    public void Return()
    {
        Origin = null!;
        Frame = null;
        Members = [];
        Shard = null;
        RequestId = 0;
        Conversation = User = Peer = Seq = 0;
        ClientId = default;
        BodyLength = 0;
        if (Pool.Count < MaxPooled)
        {
            Pool.Enqueue(this);
        }
    }

    public WorkKind Kind;
    /// <summary>Who gets the answer; also the one session a Deliver is not sent to (its Ack stands for it).</summary>
    public IRequester Origin = null!;
    public uint RequestId;
    public long Conversation;
    /// <summary>The acting user: sender, creator, reader.</summary>
    public long User;
    /// <summary>Send to a 1:1 conversation: the other user of the pair (the store's writer creates the conversation with the first message).</summary>
    public long Peer;
    /// <summary>Read: the seq read up to.</summary>
    public long Seq;
    public ClientMessageId ClientId;
    /// <summary>Send: the Deliver every recipient gets, seq and timestamp still to patch; the body is its last <see cref="BodyLength"/> payload bytes.</summary>
    public Sessions.OutboundFrame? Frame;
    public int BodyLength;
    /// <summary>CreateGroup (besides the creator), AddMembers, RemoveMembers (rewritten by the store to those who changed), Leave (the user).</summary>
    public long[] Members = [];

    /// <summary>The sequencer that queued it, and that its outcome goes back to.</summary>
    internal Sequencer? Shard;

    void IWriteCallback.Written(in WriteResult result) => Shard!.Complete(this, result);

    void IWriteCallback.Failed(Exception error) => Shard!.Fail(this, error);
}
