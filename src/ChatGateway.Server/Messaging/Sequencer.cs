using System.Threading.Channels;
using ChatGateway.Protocol;
using ChatGateway.Server.Sessions;
using ChatGateway.Storage;
using MessagePack;
using Microsoft.Extensions.Logging;

namespace ChatGateway.Server.Messaging;

/// <summary>
/// The single writer of one shard's conversations. Two loops joined by a bounded channel:
/// <list type="number">
/// <item>submit: takes accepted requests in order and starts each against the shard's store, whose writer
/// assigns seq = head + 1 and group-commits many at once; the store processes them in exactly this order;</item>
/// <item>complete: awaits each result in that same order, then acks the requester and fans out. Awaiting in
/// submission order is what makes every session receive a conversation's messages in seq order.</item>
/// </list>
/// Bound: <see cref="ChatOptions.SequencerQueueDepth"/> accepted and as many in flight; a full queue answers
/// <c>busy</c> at once rather than buffering without limit.
/// </summary>
public sealed class Sequencer
{
    private readonly ChatStore _store;
    private readonly SessionRegistry _registry;
    private readonly FanOut _fanOut;
    private readonly ILogger _logger;
    private readonly Channel<SequencerWork> _accepted;
    private readonly Channel<SequencerWork> _inFlight;
    private readonly List<long> _users = [];
    private Task _loops = Task.CompletedTask;

    public Sequencer(ChatStore store, SessionRegistry registry, ChatOptions options, ILogger logger)
    {
        _store = store;
        _registry = registry;
        _logger = logger;
        _fanOut = new FanOut(store, registry, logger);
        _accepted = Channel.CreateBounded<SequencerWork>(new BoundedChannelOptions(options.SequencerQueueDepth)
        {
            SingleReader = true, FullMode = BoundedChannelFullMode.Wait,
        });
        _inFlight = Channel.CreateBounded<SequencerWork>(new BoundedChannelOptions(options.SequencerQueueDepth)
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public long Submitted;
    public long Completed;

    public void Start() => _loops = Task.WhenAll(
        Task.Run(SubmitLoopAsync), Task.Run(CompleteLoopAsync), Task.Run(_fanOut.DrainPendingWritesAsync));

    /// <summary>Accepts a request; false when the shard's queue is full (answer <c>busy</c>) or the node is stopping.</summary>
    public bool TrySubmit(SequencerWork work) => _accepted.Writer.TryWrite(work);

    /// <summary>Stops accepting, finishes everything accepted (acks included), and waits for the loops.</summary>
    public async Task StopAsync()
    {
        _accepted.Writer.TryComplete();
        await _loops.ConfigureAwait(false);
    }

    private async Task SubmitLoopAsync()
    {
        ChannelReader<SequencerWork> reader = _accepted.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out SequencerWork? work))
                {
                    // When the store's queue is full, a submission waits for room without blocking this loop. Order
                    // still holds: a bounded channel hands each freed slot to its oldest blocked writer, so later
                    // submissions cannot overtake, and the store processes this shard's requests as started here.
                    Start(work);
                    Interlocked.Increment(ref Submitted);
                    await _inFlight.Writer.WriteAsync(work).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _inFlight.Writer.TryComplete();
        }
    }

    private void Start(SequencerWork work)
    {
        try
        {
            switch (work.Kind)
            {
                case WorkKind.Send:
                    ReadOnlySpan<byte> body = work.Frame!.Payload[^work.BodyLength..];
                    work.Result = work.Peer != 0
                        ? _store.AppendDirectMessageAsync(work.Conversation, work.User, work.Peer, work.ClientId, body)
                        : _store.AppendMessageAsync(work.Conversation, work.User, work.ClientId, body);
                    break;
                case WorkKind.CreateGroup:
                    work.Result = _store.CreateConversationAsync(work.Conversation, work.User, work.Members);
                    break;
                case WorkKind.AddMembers:
                case WorkKind.RemoveMembers:
                    work.Results = new ValueTask<WriteResult>[work.Members.Length];
                    for (int i = 0; i < work.Members.Length; i++)
                    {
                        work.Results[i] = work.Kind == WorkKind.AddMembers
                            ? _store.AddMemberAsync(work.Conversation, work.Members[i])
                            : _store.RemoveMemberAsync(work.Conversation, work.Members[i]);
                    }
                    break;
                case WorkKind.Leave:
                    work.Result = _store.RemoveMemberAsync(work.Conversation, work.User);
                    break;
                case WorkKind.Read:
                    work.Result = _store.MarkReadAsync(work.User, work.Conversation, work.Seq);
                    break;
            }
        }
        catch (Exception ex) when (ex is StoreException or ObjectDisposedException or ArgumentException)
        {
            work.StartError = ex;
        }
    }

    private async Task CompleteLoopAsync()
    {
        ChannelReader<SequencerWork> reader = _inFlight.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out SequencerWork? work))
                {
                    try
                    {
                        await CompleteAsync(work).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is StoreException or ObjectDisposedException or InvalidOperationException)
                    {
                        // Not written (or not known to be): the requester must not take it as done.
                        _logger.LogWarning(ex, "Request {Kind} on conversation {Conversation} failed in storage", work.Kind, work.Conversation);
                        work.Origin.SendError(work.RequestId, ErrorCode.Unavailable, "storage failed; the request was not carried out");
                    }
                    catch (Exception ex)
                    {
                        // A bug, not bad input: log it loudly, answer, and keep the loop alive for everyone else.
                        _logger.LogError(ex, "Request {Kind} on conversation {Conversation} failed unexpectedly", work.Kind, work.Conversation);
                        work.Origin.SendError(work.RequestId, ErrorCode.Unavailable, "internal error; the request may not have been carried out");
                    }
                    finally
                    {
                        work.Frame?.Release();
                        work.Return();
                        Interlocked.Increment(ref Completed);
                    }
                }
            }
        }
        finally
        {
            _fanOut.Complete();
        }
    }

    // Pooled state machine: when this awaits (the common case under load) it would otherwise allocate a box per call.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CompleteAsync(SequencerWork work)
    {
        if (work.StartError is { } startError)
        {
            // Observe whatever was started before the failure, then report it.
            throw new InvalidOperationException("the request could not be started", startError);
        }
        switch (work.Kind)
        {
            case WorkKind.Send:
                await CompleteSendAsync(work).ConfigureAwait(false);
                break;
            case WorkKind.CreateGroup:
                await CompleteCreateGroupAsync(work).ConfigureAwait(false);
                break;
            case WorkKind.AddMembers:
            case WorkKind.RemoveMembers:
                await CompleteMembershipAsync(work).ConfigureAwait(false);
                break;
            case WorkKind.Leave:
                await CompleteLeaveAsync(work).ConfigureAwait(false);
                break;
            case WorkKind.Read:
                await CompleteReadAsync(work).ConfigureAwait(false);
                break;
        }
    }

    // Pooled state machine: when this awaits (the common case under load) it would otherwise allocate a box per call.
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask CompleteSendAsync(SequencerWork work)
    {
        WriteResult result = await work.Result.ConfigureAwait(false);
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
                await _fanOut.ToMembersAsync(result.Conversation, frame, except: work.Origin, pendingSeq: result.Seq).ConfigureAwait(false);
                break;
            case WriteStatus.Duplicate:
                work.Origin.SendAck(work.RequestId, result.Conversation, result.Seq, result.Timestamp, duplicate: true);
                break;
            default:
                work.Origin.SendError(work.RequestId, ErrorCode.NotMember, "not a member of this conversation");
                break;
        }
    }

    private async ValueTask CompleteCreateGroupAsync(SequencerWork work)
    {
        WriteResult result = await work.Result.ConfigureAwait(false);
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
        await AnnounceAsync(work.Conversation, MembershipChange.Created, work.User, _users, alsoTo: null).ConfigureAwait(false);
    }

    private async ValueTask CompleteMembershipAsync(SequencerWork work)
    {
        _fanOut.Forget(work.Conversation);
        _users.Clear();
        for (int i = 0; i < work.Results.Length; i++)
        {
            if ((await work.Results[i].ConfigureAwait(false)).Status == WriteStatus.Ok)
            {
                _users.Add(work.Members[i]);
            }
        }
        work.Origin.SendOk(work.RequestId, _users.Count);
        if (_users.Count > 0)
        {
            bool added = work.Kind == WorkKind.AddMembers;
            await AnnounceAsync(work.Conversation, added ? MembershipChange.Added : MembershipChange.Removed, work.User, _users,
                alsoTo: added ? null : _users).ConfigureAwait(false);
        }
    }

    private async ValueTask CompleteLeaveAsync(SequencerWork work)
    {
        WriteResult result = await work.Result.ConfigureAwait(false);
        _fanOut.Forget(work.Conversation);
        if (result.Status != WriteStatus.Ok)
        {
            work.Origin.SendError(work.RequestId, ErrorCode.NotMember, "not a member of this conversation");
            return;
        }
        work.Origin.SendOk(work.RequestId, 0);
        _users.Clear();
        _users.Add(work.User);
        await AnnounceAsync(work.Conversation, MembershipChange.Left, work.User, _users, alsoTo: _users).ConfigureAwait(false);
    }

    private async ValueTask CompleteReadAsync(SequencerWork work)
    {
        WriteResult result = await work.Result.ConfigureAwait(false);
        switch (result.Status)
        {
            case WriteStatus.Ok:
                work.Origin.SendOk(work.RequestId, result.Seq);
                OutboundFrame frame = OutboundFrame.Rent(32);
                MessagePackWriter w = frame.Writer();
                ServerMessageWriter.Receipt(ref w, work.Conversation, work.User, result.Seq);
                w.Flush();
                frame.Seal();
                await _fanOut.ToMembersAsync(work.Conversation, frame, except: work.Origin, pendingSeq: 0).ConfigureAwait(false);
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
    private async ValueTask AnnounceAsync(long conversation, MembershipChange change, long actor, List<long> users, List<long>? alsoTo)
    {
        OutboundFrame frame = OutboundFrame.Rent(16 + users.Count * 9);
        MessagePackWriter w = frame.Writer();
        ServerMessageWriter.Membership(ref w, conversation, change, actor, users);
        w.Flush();
        frame.Seal();
        await _fanOut.ToMembersAsync(conversation, frame, except: null, pendingSeq: 0).ConfigureAwait(false);
        if (alsoTo is not null)
        {
            _fanOut.ToUsers(alsoTo, frame);
        }
        frame.Release();
    }
}
