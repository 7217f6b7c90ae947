using System.Threading.Channels;
using ChatGateway.Server.Sessions;
using ChatGateway.Storage;
using Microsoft.Extensions.Logging;

namespace ChatGateway.Server.Messaging;

/// <summary>
/// Puts one encoded frame on the outbound queue of every online session of a conversation's members. Used by
/// one sequencer, on its store's writer (so frames of one conversation are queued in seq order), never concurrently.
/// Members with no session on this node get a pending entry instead (messages only), whose write is awaited
/// off the writer by <see cref="DrainPendingWritesAsync"/> through a bounded channel.
/// </summary>
public sealed class FanOut(ChatStore store, SessionRegistry registry, ILogger logger)
{
    /// <summary>Conversations whose member lists are cached; past it the cache is emptied and refills from the store.</summary>
    public const int MemberCacheLimit = 65_536;

    private readonly List<long> _members = [];
    // Member lists by conversation, so a message costs no index reads for its recipients (member records soon
    // leave the index's memory under message traffic). Exact because every membership change of a conversation
    // is completed by this fan-out's sequencer, which calls Forget before announcing it.
    private readonly Dictionary<long, long[]> _memberCache = [];
    private readonly Channel<ValueTask<WriteResult>> _pendingWrites = Channel.CreateBounded<ValueTask<WriteResult>>(
        new BoundedChannelOptions(MaxPendingWrites) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

    /// <summary>
    /// Pending-entry writes started and not yet finished. Past it a new entry is skipped (and counted in
    /// <see cref="PendingEntriesSkipped"/>): the writer must never wait, and an entry is a hint the client does not
    /// depend on (it compares ListConversations heads on every connect). Reached only if the disk stalls while
    /// tens of thousands of offline members are owed entries.
    /// </summary>
    public const int MaxPendingWrites = 65_536;

    public long PendingEntriesSkipped;

    /// <summary>Drops a conversation's cached members: its membership just changed.</summary>
    public void Forget(long conversation) => _memberCache.Remove(conversation);

    private long[] MembersOf(long conversation)
    {
        if (_memberCache.TryGetValue(conversation, out long[]? members))
        {
            return members;
        }
        store.GetMembers(conversation, _members);
        members = [.. _members];
        if (_memberCache.Count >= MemberCacheLimit)
        {
            _memberCache.Clear();
        }
        _memberCache[conversation] = members;
        return members;
    }


    /// <summary>Queues <paramref name="frame"/> (one reference taken per session) for every member except the session <paramref name="except"/>.</summary>
    /// <param name="pendingSeq">A message: members with no session get a pending entry for this seq. 0: an event, nothing pending.</param>
    public void ToMembers(long conversation, OutboundFrame frame, IRequester? except, long pendingSeq)
    {
        foreach (long member in MembersOf(conversation))
        {
            ChatSession[] sessions = registry.SessionsOf(member);
            if (sessions.Length == 0)
            {
                if (pendingSeq > 0)
                {
                    WritePendingEntry(member, conversation, pendingSeq);
                }
                continue;
            }
            ToSessions(sessions, frame, except);
        }
    }

    private void WritePendingEntry(long member, long conversation, long seq)
    {
        if (_pendingWrites.Reader.Count >= MaxPendingWrites)
        {
            if (Interlocked.Increment(ref PendingEntriesSkipped) == 1)
            {
                logger.LogWarning("{Max} pending-entry writes outstanding: further entries are skipped (clients still catch up by ListConversations)", MaxPendingWrites);
            }
            return;
        }
        try
        {
            // Queued behind this batch on the same writer; when its queue is full the write waits for room off this thread.
            _pendingWrites.Writer.TryWrite(store.EnqueuePendingAsync(member, conversation, seq));
        }
        catch (ObjectDisposedException)
        {
            // The store is closing: the hint is lost; the client still catches up by ListConversations.
        }
    }

    /// <summary>Queues <paramref name="frame"/> for every session of each user in <paramref name="users"/>.</summary>
    public void ToUsers(IReadOnlyList<long> users, OutboundFrame frame)
    {
        for (int i = 0; i < users.Count; i++)
        {
            ToSessions(registry.SessionsOf(users[i]), frame, except: null);
        }
    }

    private static void ToSessions(ChatSession[] sessions, OutboundFrame frame, IRequester? except)
    {
        foreach (ChatSession session in sessions)
        {
            if (!ReferenceEquals(session, except))
            {
                session.Enqueue(frame.AddReference());
            }
        }
    }

    public void Complete() => _pendingWrites.Writer.TryComplete();

    /// <summary>Awaits pending-entry writes. A failure loses a hint, not a message: the client still finds it by ListConversations.</summary>
    public async Task DrainPendingWritesAsync()
    {
        ChannelReader<ValueTask<WriteResult>> reader = _pendingWrites.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out ValueTask<WriteResult> write))
            {
                try
                {
                    await write.ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    logger.LogWarning(ex, "A pending-queue entry could not be written");
                }
            }
        }
    }
}
