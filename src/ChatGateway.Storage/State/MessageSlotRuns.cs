namespace ChatGateway.Storage.State;

/// <summary>
/// Message slots applied but not yet written to the index, gathered into one run of consecutive seqs per
/// conversation, so that a run within one <see cref="MessageBlock"/> costs one read-modify-write of the block
/// instead of one per message. Why: that read-modify-write was ~7.4% of the server's CPU in the `pairs` benchmark,
/// where a writer batch of ~2,600 messages holds ~26 per conversation (docs/benchmarks.md, session 18).
/// <para>
/// A run is written when its conversation's next seq does not continue it (it enters the next block), and every
/// run is written by <see cref="Flush"/>, which must come before anything reads the blocks: the writer flushes at
/// the end of each batch, before the batch's heads are published to readers and before any checkpoint; recovery
/// flushes with the conversation records. Runs of one conversation are written in the order of their seqs, so
/// count retention's deletion of a block (always of a block before the one its message goes into) comes after
/// that block's last run.
/// </para>
/// Bound: <see cref="MaxRuns"/> runs open at once (256 × 64 slots × 16 B = 256 KiB, allocated up front); the
/// slot of a conversation that finds them all taken is written at once, as before runs.
/// Used by the thread that applies records (<see cref="StateMachine"/>).
/// </summary>
internal sealed class MessageSlotRuns(StateSession session)
{
    public const int MaxRuns = 256;

    private struct Run
    {
        public long Conversation;
        public long Block;
        public int FirstSlot;
        public int Count;
    }

    private readonly Run[] _runs = new Run[MaxRuns];
    private readonly MessageSlot[] _slots = new MessageSlot[MaxRuns * MessageBlock.Seqs]; // run i's at [i * Seqs, i * Seqs + Count)
    private readonly Dictionary<long, int> _runOf = new(MaxRuns);
    private int _open;

    /// <summary>How many runs are waiting for <see cref="Flush"/>.</summary>
    public int Open => _open;

    /// <summary>Sets the slot of <paramref name="seq"/> once its run is written.</summary>
    public void Add(long conversation, long seq, in MessageSlot slot)
    {
        long block = MessageBlock.BlockOf(seq);
        int slotIndex = MessageBlock.SlotOf(seq);
        if (_runOf.TryGetValue(conversation, out int index))
        {
            ref Run run = ref _runs[index];
            if (run.Block != block || run.FirstSlot + run.Count != slotIndex)
            {
                Write(index);
                run.Block = block;
                run.FirstSlot = slotIndex;
                run.Count = 0;
            }
            _slots[index * MessageBlock.Seqs + run.Count++] = slot;
            return;
        }
        if (_open == MaxRuns)
        {
            Write(conversation, block, slotIndex, new ReadOnlySpan<MessageSlot>(in slot));
            return;
        }
        index = _open++;
        _runs[index] = new Run { Conversation = conversation, Block = block, FirstSlot = slotIndex, Count = 1 };
        _slots[index * MessageBlock.Seqs] = slot;
        _runOf.Add(conversation, index);
    }

    /// <summary>Writes every open run to the index.</summary>
    public void Flush()
    {
        for (int index = 0; index < _open; index++)
        {
            Write(index);
        }
        _open = 0;
        _runOf.Clear();
    }

    private void Write(int index)
    {
        ref readonly Run run = ref _runs[index];
        Write(run.Conversation, run.Block, run.FirstSlot, _slots.AsSpan(index * MessageBlock.Seqs, run.Count));
    }

    private void Write(long conversation, long block, int firstSlot, ReadOnlySpan<MessageSlot> slots)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        session.SetMessageSlots(StateKey.Of(key, KeyKind.MessageBlock, conversation, block), firstSlot, slots);
    }
}
