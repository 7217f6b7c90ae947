using ChatGateway.Protocol;
using ChatGateway.Server.Sessions;
using ChatGateway.Storage;
using MessagePack;
using Microsoft.Extensions.Logging;

namespace ChatGateway.Server.Messaging;

/// <summary>
/// The single writer of one shard's conversations. Sessions hand it requests (<see cref="TrySubmit"/>); it queues
/// each on the shard's store with the request as the callback. The store's writer decides them in the order queued
/// (membership, dedupe, seq = head + 1), group-commits, and then calls back in that same order on its own thread,
/// where this class finishes each: ack the requester, patch the Deliver, fan out. So one thread decides, stores and
/// fans out a shard's messages, and every session receives a conversation's messages in seq order.
/// <para>
/// Until session 16 two loops of its own sat between the sessions and the writer: one queued requests on the store,
/// one awaited their results in order. Each cost a bounded channel, a hand-off between threads and an awaitable per
/// message, and the store copied every body once more; finishing on the writer costs none of these (see
/// docs/architecture.md).
/// </para>
/// Bound: <see cref="ChatOptions.SequencerQueueDepth"/> requests in flight per shard, and the store's own write
/// queue; past either, <see cref="TrySubmit"/> refuses at once (the session answers <c>busy</c>).
/// </summary>
public sealed class Sequencer : IWriteBatchObserver
{
    private readonly ChatStore _store;
    private readonly FanOut _fanOut;
    private readonly ILogger _logger;
    private readonly int _maxInFlight;
    private readonly List<long> _users = []; // used on the writer only
    private Task _pendingWrites = Task.CompletedTask;
    private volatile bool _stopping;

    public Sequencer(ChatStore store, SessionRegistry registry, ChatOptions options, ILogger logger)
    {
        _store = store;
        _logger = logger;
        _maxInFlight = options.SequencerQueueDepth;
        _fanOut = new FanOut(store, registry, logger);
        store.ObserveBatches(this);
    }

    public long Submitted;
    public long Completed;

    /// <summary>Pending entries not written because too many entry writes were outstanding (see <see cref="FanOut.MaxPendingWrites"/>).</summary>
    public long PendingEntriesSkipped => Interlocked.Read(ref _fanOut.PendingEntriesSkipped);

    public void Start() => _pendingWrites = Task.Run(_fanOut.DrainPendingWritesAsync);

    /// <summary>
    /// Queues a request; false when the shard has <see cref="ChatOptions.SequencerQueueDepth"/> in flight, the store's
    /// queue is full (answer <c>busy</c>) or the node is stopping. Once true, the work belongs to the sequencer: it
    /// may already be finished and back in its pool when this returns.
    /// </summary>
    public bool TrySubmit(SequencerWork work)
    {
        if (_stopping || Volatile.Read(ref Submitted) - Volatile.Read(ref Completed) >= _maxInFlight)
        {
            return false;
        }
        work.Shard = this;
        Interlocked.Increment(ref Submitted); // before: the outcome may be told before the store's call returns
        bool queued = work.Kind switch
        {
            WorkKind.Send => _store.TryAppendMessage(work.Conversation, work.User, work.Peer, work.ClientId,
                work.Frame!.PayloadTail(work.BodyLength), work),
            WorkKind.CreateGroup => _store.TryCreateConversation(work.Conversation, work.User, work.Members, work),
            WorkKind.AddMembers or WorkKind.RemoveMembers or WorkKind.Leave =>
                _store.TryChangeMembers(work.Conversation, work.Members, add: work.Kind == WorkKind.AddMembers, work),
            WorkKind.Read => _store.TryMarkRead(work.User, work.Conversation, work.Seq, work),
            _ => false,
        };
        if (!queued)
        {
            work.Shard = null;
            Interlocked.Decrement(ref Submitted);
        }
        return queued;
    }

    /// <summary>Stops accepting, waits until everything accepted is committed and answered, then for the pending-entry writes.</summary>
    public async Task StopAsync()
    {
        _stopping = true;
        try
        {
            await _store.FlushAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is StoreException or ObjectDisposedException)
        {
            // The store stopped after a failure: every request still queued was told so (Fail) and answered.
        }
        _fanOut.Complete();
        await _pendingWrites.ConfigureAwait(false);
    }

    /// <summary>
    /// On the store's writer, before a batch's outcomes: the acks and Delivers they queue leave once per session, on the
    /// writer, after the last outcome (<see cref="OutboundQueue.DeferDrains"/>), rather than each waking a pool thread.
    /// </summary>
    void IWriteBatchObserver.OutcomesStarting() => OutboundQueue.DeferDrains();

    /// <summary>On the store's writer, after a batch's outcomes: every session they queued frames on writes them now.</summary>
    void IWriteBatchObserver.OutcomesTold() => OutboundQueue.RunDeferredDrains();

    /// <summary>On the store's writer, in the shard's order: the request was decided (and is durable in Commit mode).</summary>
    internal void Complete(SequencerWork work, in WriteResult result)
    {
        try
        {
            switch (work.Kind)
            {
                case WorkKind.Send:
                    CompleteSend(work, result);
                    break;
                case WorkKind.CreateGroup:
                    CompleteCreateGroup(work, result);
                    break;
                case WorkKind.AddMembers:
                case WorkKind.RemoveMembers:
                    CompleteMembership(work, result);
                    break;
                case WorkKind.Leave:
                    CompleteLeave(work, result);
                    break;
                case WorkKind.Read:
                    CompleteRead(work, result);
                    break;
            }
        }
        catch (Exception ex)
        {
            // A bug, not bad input: log it loudly, answer, and let the writer go on for everyone else.
            _logger.LogError(ex, "Request {Kind} on conversation {Conversation} failed unexpectedly", work.Kind, work.Conversation);
            work.Origin.SendError(work.RequestId, ErrorCode.Unavailable, "internal error; the request may not have been carried out");
        }
        finally
        {
            Finish(work);
        }
    }

    /// <summary>The request was not written (or not known to be): the requester must not take it as done.</summary>
    internal void Fail(SequencerWork work, Exception error)
    {
        try
        {
            _logger.LogWarning(error, "Request {Kind} on conversation {Conversation} failed in storage", work.Kind, work.Conversation);
            work.Origin.SendError(work.RequestId, ErrorCode.Unavailable, "storage failed; the request was not carried out");
        }
        finally
        {
            Finish(work);
        }
    }

    private void Finish(SequencerWork work)
    {
        work.Frame?.Release();
        work.Return();
        Interlocked.Increment(ref Completed);
    }

    private void CompleteSend(SequencerWork work, in WriteResult result)
    {
        if (result.Created)
        {
            _fanOut.Forget(work.Conversation); // a member list cached while the pair had none
        }
        switch (result.Status)
        {
            case WriteStatus.Ok:
                work.Origin.SendAck(work.RequestId, result.Conversation, result.Seq, result.Timestamp, duplicate: false);
                OutboundFrame frame = work.Frame!;
                ServerMessageWriter.PatchDeliver(frame.Payload, result.Seq, result.Timestamp);
                frame.Seal();
                _fanOut.ToMembers(result.Conversation, frame, except: work.Origin, pendingSeq: result.Seq);
                break;
            case WriteStatus.Duplicate:
                work.Origin.SendAck(work.RequestId, result.Conversation, result.Seq, result.Timestamp, duplicate: true);
                break;
            default:
                work.Origin.SendError(work.RequestId, ErrorCode.NotMember, "not a member of this conversation");
                break;
        }
    }

    private void CompleteCreateGroup(SequencerWork work, in WriteResult result)
    {
        if (result.Status != WriteStatus.Ok)
        {
            // A random 62-bit id already in use: odds of 1 in 2^62 per existing group.
            work.Origin.SendError(work.RequestId, ErrorCode.Unavailable, "group id collision; retry");
            return;
        }
        _fanOut.Forget(work.Conversation);
        work.Origin.SendOk(work.RequestId, work.Conversation);
        _users.Clear();
        _users.Add(work.User);
        foreach (long member in work.Members)
        {
            if (!_users.Contains(member))
            {
                _users.Add(member);
            }
        }
        Announce(work.Conversation, MembershipChange.Created, work.User, _users, alsoTo: null);
    }

    private void CompleteMembership(SequencerWork work, in WriteResult result)
    {
        _fanOut.Forget(work.Conversation);
        // The store rewrote Members in place: its first Seq entries are the users whose membership changed.
        int changed = result.Status == WriteStatus.Ok ? (int)result.Seq : 0;
        _users.Clear();
        for (int i = 0; i < changed; i++)
        {
            _users.Add(work.Members[i]);
        }
        work.Origin.SendOk(work.RequestId, changed);
        if (changed > 0)
        {
            bool added = work.Kind == WorkKind.AddMembers;
            Announce(work.Conversation, added ? MembershipChange.Added : MembershipChange.Removed, work.User, _users,
                alsoTo: added ? null : _users);
        }
    }

    private void CompleteLeave(SequencerWork work, in WriteResult result)
    {
        _fanOut.Forget(work.Conversation);
        if (result.Status != WriteStatus.Ok)
        {
            work.Origin.SendError(work.RequestId, ErrorCode.NotMember, "not a member of this conversation");
            return;
        }
        work.Origin.SendOk(work.RequestId, 0);
        _users.Clear();
        _users.Add(work.User);
        Announce(work.Conversation, MembershipChange.Left, work.User, _users, alsoTo: _users);
    }

    private void CompleteRead(SequencerWork work, in WriteResult result)
    {
        switch (result.Status)
        {
            case WriteStatus.Ok:
                work.Origin.SendOk(work.RequestId, result.Seq);
                OutboundFrame frame = OutboundFrame.Rent(32);
                MessagePackWriter w = frame.Writer();
                ServerMessageWriter.Receipt(ref w, work.Conversation, work.User, result.Seq);
                w.Flush();
                frame.Seal();
                _fanOut.ToMembers(work.Conversation, frame, except: work.Origin, pendingSeq: 0);
                frame.Release();
                break;
            case WriteStatus.NoChange:
                work.Origin.SendOk(work.RequestId, result.Seq);
                break;
            default:
                work.Origin.SendError(work.RequestId, ErrorCode.NotMember, "not a member of this conversation");
                break;
        }
    }

    /// <summary>A MembershipEvent to every current member's sessions, and to <paramref name="alsoTo"/> (users no longer members).</summary>
    private void Announce(long conversation, MembershipChange change, long actor, List<long> users, List<long>? alsoTo)
    {
        OutboundFrame frame = OutboundFrame.Rent(16 + users.Count * 9);
        MessagePackWriter w = frame.Writer();
        ServerMessageWriter.Membership(ref w, conversation, change, actor, users);
        w.Flush();
        frame.Seal();
        _fanOut.ToMembers(conversation, frame, except: null, pendingSeq: 0);
        if (alsoTo is not null)
        {
            _fanOut.ToUsers(alsoTo, frame);
        }
        frame.Release();
    }
}
