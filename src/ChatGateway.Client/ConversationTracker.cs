using ChatGateway.Protocol;

namespace ChatGateway.Client;

/// <summary>
/// Per conversation: the last seq this device holds, and deliveries that arrived ahead of a gap. Turns
/// live deliveries, sync pages and own acks into a gap-free, repeat-free stream of events. Not thread-safe:
/// the client calls it under its state lock.
/// </summary>
internal sealed class ConversationTracker(int maxBuffered)
{
    private readonly Dictionary<long, State> _conversations = [];

    private sealed class State
    {
        public long Last;
        // seq -> message ahead of the gap; null marks a seq this device sent itself (acked, not to be emitted)
        public readonly SortedDictionary<long, ChatMessage?> Ahead = [];
        public bool Filling;
    }

    public IReadOnlyDictionary<long, long> Positions()
    {
        var positions = new Dictionary<long, long>(_conversations.Count);
        foreach ((long conversation, State state) in _conversations)
        {
            positions[conversation] = state.Last;
        }
        return positions;
    }

    public bool IsKnown(long conversation) => _conversations.ContainsKey(conversation);

    public long LastOf(long conversation) => _conversations.TryGetValue(conversation, out State? state) ? state.Last : 0;

    public void Seed(long conversation, long last) => Get(conversation).Last = last;

    /// <summary>A live delivery. True when a gap is now known and no fill runs yet (the caller starts one).</summary>
    public bool OnDeliver(ChatMessage message, List<ChatEvent> emit) => Place(message.Conversation, message.Seq, message, emit);

    /// <summary>The ack of this device's own message: its seq counts as held, nothing is emitted.</summary>
    public bool OnOwnAck(long conversation, long seq, List<ChatEvent> emit) => Place(conversation, seq, null, emit);

    /// <summary>A sync page. Returns whether to fetch another page (more to come, or a gap still open).</summary>
    public bool OnSyncPage(SyncResultMessage page, List<ChatEvent> emit)
    {
        State state = Get(page.Conversation);
        if (page.Truncated && state.Last + 1 < page.Earliest)
        {
            emit.Add(new HistoryTruncatedEvent(page.Conversation, page.Earliest));
            state.Last = page.Earliest - 1;
        }
        long before = state.Last;
        foreach (ChatMessage message in page.Messages)
        {
            Place(page.Conversation, message.Seq, message, emit);
        }
        DropBelowLast(state);
        // Another page while there is more (or a gap below the head) and this page got us further: a page that
        // makes no progress (a message deleted by retention mid-read) ends the fill instead of looping.
        bool more = page.HasMore || (state.Ahead.Count > 0 && state.Last < page.Head);
        return more && state.Last > before;
    }

    /// <summary>Marks a fill as running: gaps found meanwhile are left to it (the client runs one fill per conversation).</summary>
    public void StartFill(long conversation) => Get(conversation).Filling = true;

    /// <summary>Ends a fill; true if a gap is still open (the caller starts another).</summary>
    public bool EndFill(long conversation)
    {
        State state = Get(conversation);
        state.Filling = false;
        return state.Ahead.Count > 0;
    }

    private bool Place(long conversation, long seq, ChatMessage? message, List<ChatEvent> emit)
    {
        State state = Get(conversation);
        if (seq <= state.Last)
        {
            return false; // already held: a repeat from a sync overlapping live delivery
        }
        if (seq != state.Last + 1)
        {
            if (state.Ahead.Count < maxBuffered || message is null)
            {
                state.Ahead.TryAdd(seq, message);
            }
            return !state.Filling;
        }
        if (message is not null)
        {
            emit.Add(new MessageEvent(message));
        }
        state.Last = seq;
        while (state.Ahead.Remove(state.Last + 1, out ChatMessage? next))
        {
            if (next is not null)
            {
                emit.Add(new MessageEvent(next));
            }
            state.Last++;
        }
        return false;
    }

    private static void DropBelowLast(State state)
    {
        while (state.Ahead.Count > 0)
        {
            long first = state.Ahead.Keys.First();
            if (first > state.Last)
            {
                break;
            }
            state.Ahead.Remove(first);
        }
    }

    private State Get(long conversation)
    {
        if (!_conversations.TryGetValue(conversation, out State? state))
        {
            state = new State();
            _conversations[conversation] = state;
        }
        return state;
    }
}
