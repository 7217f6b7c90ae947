namespace ChatGateway.Storage.State;

/// <summary>
/// Dedupe claims decided but not yet written to the index, gathered per <see cref="DedupeBlock"/>, so that a
/// sender's messages in one writer batch cost about one read-modify-write of their block each time the batch first
/// meets the block, plus one for the rest, instead of one per message. Why: the claim's read-modify-write was the
/// larger part of AppendMessage's ~8% of the server's CPU in the `pairs` benchmark, where a writer batch holds ~26
/// messages per sender (docs/benchmarks.md, session 18).
/// <para>
/// The first claim of a block in a batch goes to the index as before and learns which ids the block holds. A
/// later claim of the same block whose id the block does not hold, and no claim of this batch took, is certain to
/// succeed: it is kept here and written with the block's other kept claims by <see cref="Flush"/>. A claim of an id
/// the block holds (a retry, or an id used again) still goes to the index, which knows whether the entry there is
/// fresh; one of an id kept here is answered from here. Only the writer reads dedupe blocks, and it flushes at
/// the end of each batch and before a checkpoint; recovery flushes with the conversation records.
/// </para>
/// Bound: <see cref="MaxBlocks"/> blocks and <see cref="MaxClaims"/> kept claims (about 160 KiB, allocated up
/// front); past either, a claim goes to the index at once, as before.
/// Used by the thread that applies records (<see cref="StateMachine"/>).
/// </summary>
internal sealed class DedupeClaimRuns(StateSession session)
{
    public const int MaxBlocks = 256;
    public const int MaxClaims = 4096;

    private struct OpenBlock
    {
        public long Sender;
        public ClientMessageId Block;
        public ulong InIndex; // ids the index's block held at its last claim there
        public ulong Kept; // ids claimed here, not yet written
        public int First; // the block's kept claims: a chain through _next, in claim order (-1: none)
        public int Last;
    }

    private readonly OpenBlock[] _blocks = new OpenBlock[MaxBlocks];
    private readonly DedupeClaim[] _claims = new DedupeClaim[MaxClaims];
    private readonly int[] _next = new int[MaxClaims];
    private readonly Dictionary<(long Sender, ClientMessageId Block), int> _blockOf = new(MaxBlocks);
    private int _openBlocks;
    private int _keptClaims;

    /// <summary>How many claims are waiting for <see cref="Flush"/>.</summary>
    public int Kept => _keptClaims;

    /// <summary>
    /// Claims <paramref name="clientId"/> for <paramref name="entry"/> unless it holds an entry from at or after
    /// <paramref name="freshSince"/>: then returns false and that entry (<see cref="StateSession.ClaimDedupe"/>).
    /// </summary>
    public bool TryClaim(long sender, ClientMessageId clientId, in DedupeEntry entry, long freshSince, out DedupeEntry original)
    {
        ClientMessageId blockId = DedupeBlock.BlockOf(clientId);
        ulong bit = DedupeBlock.BitOf(clientId.Low);
        if (!_blockOf.TryGetValue((sender, blockId), out int index))
        {
            bool claimed = ClaimInIndex(sender, blockId, clientId.Low, entry, freshSince, out original, out ulong present);
            if (_openBlocks < MaxBlocks)
            {
                index = _openBlocks++;
                _blocks[index] = new OpenBlock { Sender = sender, Block = blockId, InIndex = present, First = -1, Last = -1 };
                _blockOf.Add((sender, blockId), index);
            }
            return claimed;
        }

        ref OpenBlock block = ref _blocks[index];
        if ((block.Kept & bit) != 0)
        {
            ref DedupeClaim kept = ref Find(block, clientId.Low);
            if (kept.Entry.Timestamp >= freshSince)
            {
                original = kept.Entry;
                return false;
            }
            kept.Entry = entry; // replay: the later record wins
            original = default;
            return true;
        }
        if ((block.InIndex & bit) != 0 || _keptClaims == MaxClaims)
        {
            bool claimed = ClaimInIndex(sender, blockId, clientId.Low, entry, freshSince, out original, out ulong present);
            block.InIndex = present;
            return claimed;
        }

        int slot = _keptClaims++;
        _claims[slot] = new DedupeClaim { Low = clientId.Low, Entry = entry };
        _next[slot] = -1;
        if (block.Last >= 0)
        {
            _next[block.Last] = slot;
        }
        else
        {
            block.First = slot;
        }
        block.Last = slot;
        block.Kept |= bit;
        original = default;
        return true;
    }

    /// <summary>Writes every kept claim to the index, one operation per block, and forgets the blocks.</summary>
    public void Flush()
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        Span<DedupeClaim> claims = stackalloc DedupeClaim[DedupeBlock.Ids];
        for (int index = 0; index < _openBlocks; index++)
        {
            ref readonly OpenBlock block = ref _blocks[index];
            if (block.First < 0)
            {
                continue;
            }
            int count = 0;
            for (int slot = block.First; slot >= 0; slot = _next[slot])
            {
                claims[count++] = _claims[slot];
            }
            session.WriteDedupeClaims(StateKey.Of(key, KeyKind.DedupeBlock, block.Sender, block.Block), claims[..count]);
        }
        _openBlocks = 0;
        _keptClaims = 0;
        _blockOf.Clear();
    }

    private ref DedupeClaim Find(in OpenBlock block, ulong low)
    {
        for (int slot = block.First; slot >= 0; slot = _next[slot])
        {
            if (_claims[slot].Low == low)
            {
                return ref _claims[slot];
            }
        }
        throw new InvalidOperationException($"dedupe id {low:x} marked kept but not found");
    }

    private bool ClaimInIndex(long sender, ClientMessageId blockId, ulong low, in DedupeEntry entry, long freshSince, out DedupeEntry original, out ulong present)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        return session.ClaimDedupeInBlock(StateKey.Of(key, KeyKind.DedupeBlock, sender, blockId), low, entry, freshSince, out original, out present);
    }
}
