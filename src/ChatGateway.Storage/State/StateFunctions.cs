using System.Runtime.InteropServices;
using FASTER.core;

namespace ChatGateway.Storage.State;

/// <summary>
/// FASTER's callbacks for one index session: reads and writes of byte values as FASTER's own
/// <see cref="SpanByteFunctions{Context}"/>, plus the store's two read-modify-writes:
/// <list type="bullet">
/// <item>the dedupe claim (<see cref="StateSession.ClaimDedupe"/>): write the new entry unless the key holds one
/// still inside the dedupe window, and report that one. Why a read-modify-write: every message with a client id
/// used to read its dedupe key (almost always absent) and then upsert it, two hash lookups; the read was 14% of
/// the writer's CPU at 256-message batches (perf).</item>
/// <item>the same claim in a dedupe block of format 4 (<see cref="StateSession.ClaimDedupeInBlock"/>), which grows
/// when a new id does not fit (<see cref="DedupeBlock"/>);</item>
/// <item>writing several claims into one dedupe block at once (<see cref="StateSession.WriteDedupeClaims"/>), for ids
/// the writer already knows the block does not hold fresh (<see cref="DedupeClaimRuns"/>);</item>
/// <item>setting a run of consecutive slots of a message block (<see cref="StateSession.SetMessageSlots"/>), growing
/// the block when the run ends past its end (<see cref="MessageBlock"/>).</item>
/// </list>
/// The operation, its parameters and its result live in fields: a session runs one operation at a time on one
/// thread, and FASTER runs an operation's callbacks on that thread, also when <c>CompletePending</c> finishes one
/// that went to disk. <see cref="Lengths"/> sizes the records FASTER allocates for them.
/// </summary>
internal sealed class StateFunctions : SpanByteFunctions<Empty>
{
    public enum Operation
    {
        ClaimDedupe,
        ClaimDedupeInBlock,
        WriteDedupeClaims,
        SetMessageSlots,
    }

    /// <summary>Which read-modify-write the session is running.</summary>
    public Operation Running;

    /// <summary>Dedupe entries with a timestamp at or after this are kept (the retry is a duplicate); older ones are replaced.</summary>
    public long FreshSince;

    /// <summary>Whether the last claim found a fresh entry, and that entry.</summary>
    public bool Found;
    public DedupeEntry Existing;

    /// <summary>After a single claim in a dedupe block (not after written claims, whose caller needs none): the ids the block holds (<see cref="DedupeBlock.PresentOf"/>).</summary>
    public ulong Present;

    public StateFunctions() => Lengths = new ValueLengths(this);

    /// <summary>Sizes of new and copied values, per operation (FASTER asks before it allocates the record).</summary>
    public IVariableLengthStruct<SpanByte, SpanByte> Lengths { get; }

    public override bool InitialUpdater(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref SpanByteAndMemory output, ref RMWInfo rmwInfo)
    {
        if (Running == Operation.SetMessageSlots)
        {
            value.Length = MessageBlock.BytesFor(Update(ref input).LastSlot);
            value.AsSpan().Clear();
            WriteSlots(ref value, ref input);
            return true;
        }
        if (Running == Operation.WriteDedupeClaims)
        {
            value.Length = DedupeBlock.LengthAfterClaims([], Claims(ref input));
            value.AsSpan().Clear();
            WriteClaims(ref value, ref input);
            return true;
        }
        Found = false;
        if (Running == Operation.ClaimDedupeInBlock)
        {
            value.Length = DedupeBlock.BytesFor(1);
            DedupeBlock.Create(value.AsSpan(), Claim(ref input));
            Present = DedupeBlock.PresentOf(value.AsReadOnlySpan());
            return true;
        }
        return base.InitialUpdater(ref key, ref input, ref value, ref output, ref rmwInfo);
    }

    public override bool InPlaceUpdater(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref SpanByteAndMemory output, ref RMWInfo rmwInfo)
    {
        if (Running == Operation.SetMessageSlots)
        {
            if ((Update(ref input).LastSlot + 1) * MessageBlock.SlotSize > value.Length)
            {
                return false; // past the block's end: FASTER copies it into a bigger record (CopyUpdater)
            }
            WriteSlots(ref value, ref input);
            return true;
        }
        if (Running == Operation.WriteDedupeClaims)
        {
            if (DedupeBlock.LengthAfterClaims(value.AsReadOnlySpan(), Claims(ref input)) != value.Length)
            {
                return false; // the new ids need room: FASTER copies the block into a bigger record (CopyUpdater)
            }
            WriteClaims(ref value, ref input);
            return true;
        }
        if (Running == Operation.ClaimDedupeInBlock)
        {
            ref readonly DedupeClaim claim = ref Claim(ref input);
            // Unchanged when the id is fresh; otherwise written here, or copied into a bigger block when it does not fit.
            if (!KeepInBlock(ref value, claim.Low) && !DedupeBlock.TryWrite(value.AsSpan(), claim))
            {
                return false;
            }
            Present = DedupeBlock.PresentOf(value.AsReadOnlySpan());
            return true;
        }
        if (Keep(ref value))
        {
            return true; // nothing to change
        }
        if (value.Length != input.Length)
        {
            return false; // not a dedupe entry's size: let FASTER copy instead
        }
        input.AsReadOnlySpan().CopyTo(value.AsSpan());
        return true;
    }

    /// <summary>Called for a record that cannot be updated in place (read-only region, or read from disk).</summary>
    public override bool NeedCopyUpdate(ref SpanByte key, ref SpanByte input, ref SpanByte oldValue, ref SpanByteAndMemory output, ref RMWInfo rmwInfo) =>
        Running switch
        {
            Operation.SetMessageSlots or Operation.WriteDedupeClaims => true,
            Operation.ClaimDedupeInBlock => !KeepInBlock(ref oldValue, Claim(ref input).Low),
            _ => !Keep(ref oldValue),
        };

    public override bool CopyUpdater(ref SpanByte key, ref SpanByte input, ref SpanByte oldValue, ref SpanByte newValue, ref SpanByteAndMemory output, ref RMWInfo rmwInfo)
    {
        if (Running == Operation.SetMessageSlots)
        {
            CopyGrown(ref oldValue, ref newValue, BlockLength(oldValue.Length, Update(ref input)));
            WriteSlots(ref newValue, ref input);
            return true;
        }
        if (Running == Operation.WriteDedupeClaims)
        {
            CopyGrown(ref oldValue, ref newValue, DedupeBlock.LengthAfterClaims(oldValue.AsReadOnlySpan(), Claims(ref input)));
            WriteClaims(ref newValue, ref input);
            return true;
        }
        Found = false;
        if (Running == Operation.ClaimDedupeInBlock)
        {
            ref readonly DedupeClaim claim = ref Claim(ref input);
            CopyGrown(ref oldValue, ref newValue, DedupeBlock.LengthAfterClaim(oldValue.AsReadOnlySpan(), claim.Low));
            if (!DedupeBlock.TryWrite(newValue.AsSpan(), claim))
            {
                throw new StoreCorruptedException("a dedupe block copied to make room still has none");
            }
            Present = DedupeBlock.PresentOf(newValue.AsReadOnlySpan());
            return true;
        }
        input.CopyTo(ref newValue);
        return true;
    }

    /// <summary>A block copied into its new record of <paramref name="length"/> bytes, zeros past the old contents.</summary>
    private static void CopyGrown(ref SpanByte oldValue, ref SpanByte newValue, int length)
    {
        newValue.Length = length;
        Span<byte> destination = newValue.AsSpan();
        oldValue.AsReadOnlySpan().CopyTo(destination);
        destination[oldValue.Length..].Clear();
    }

    private static ref readonly DedupeClaim Claim(ref SpanByte input) =>
        ref MemoryMarshal.AsRef<DedupeClaim>(input.AsReadOnlySpan());

    private static ReadOnlySpan<DedupeClaim> Claims(ref SpanByte input) =>
        MemoryMarshal.Cast<byte, DedupeClaim>(input.AsReadOnlySpan());

    /// <summary>Writes every claim of the input into a block sized for them (<see cref="DedupeBlock.LengthAfterClaims"/>).</summary>
    private static void WriteClaims(ref SpanByte block, ref SpanByte input)
    {
        foreach (ref readonly DedupeClaim claim in Claims(ref input))
        {
            if (!DedupeBlock.TryWrite(block.AsSpan(), claim))
            {
                throw new StoreCorruptedException("a dedupe block sized for its claims has no room for one");
            }
        }
    }

    /// <summary>Whether the block holds <paramref name="low"/> with an entry still inside the window (then reported in <see cref="Existing"/>).</summary>
    private bool KeepInBlock(ref SpanByte block, ulong low)
    {
        Found = DedupeBlock.TryFind(block.AsReadOnlySpan(), low, out DedupeEntry entry) && entry.Timestamp >= FreshSince;
        if (Found)
        {
            Existing = entry;
            Present = DedupeBlock.PresentOf(block.AsReadOnlySpan()); // kept as it is
        }
        return Found;
    }

    private static ref readonly MessageSlotsUpdate Update(ref SpanByte input) =>
        ref MemoryMarshal.AsRef<MessageSlotsUpdate>(input.AsReadOnlySpan());

    /// <summary>Copies the run's slot values, which follow its head in the input, over the block's slots.</summary>
    private static void WriteSlots(ref SpanByte block, ref SpanByte input) =>
        input.AsReadOnlySpan()[MessageSlotsUpdate.Size..].CopyTo(block.AsSpan()[(Update(ref input).FirstSlot * MessageBlock.SlotSize)..]);

    /// <summary>A block keeps its size, or grows to hold the last slot being set.</summary>
    private static int BlockLength(int currentLength, in MessageSlotsUpdate update) =>
        Math.Max(currentLength, MessageBlock.BytesFor(update.LastSlot));

    private bool Keep(ref SpanByte value)
    {
        if (value.Length != Marshal.SizeOf<DedupeEntry>())
        {
            throw new StoreCorruptedException($"dedupe entry of {value.Length} bytes where {Marshal.SizeOf<DedupeEntry>()} were expected");
        }
        DedupeEntry entry = MemoryMarshal.Read<DedupeEntry>(value.AsReadOnlySpan());
        if (entry.Timestamp < FreshSince)
        {
            Found = false;
            return false;
        }
        Found = true;
        Existing = entry;
        return true;
    }

    /// <summary>
    /// Record sizes FASTER allocates for a read-modify-write, length prefix included. A dedupe claim writes its
    /// input (FASTER's defaults); a message block takes the size its highest slot needs, a dedupe block the size
    /// its ids need.
    /// </summary>
    private sealed class ValueLengths(StateFunctions functions) : IVariableLengthStruct<SpanByte, SpanByte>
    {
        public int GetInitialLength(ref SpanByte input) => functions.Running switch
        {
            Operation.SetMessageSlots => sizeof(int) + MessageBlock.BytesFor(Update(ref input).LastSlot),
            Operation.ClaimDedupeInBlock => sizeof(int) + DedupeBlock.BytesFor(1),
            Operation.WriteDedupeClaims => sizeof(int) + DedupeBlock.LengthAfterClaims([], Claims(ref input)),
            _ => input.TotalSize,
        };

        public int GetLength(ref SpanByte value, ref SpanByte input) => functions.Running switch
        {
            Operation.SetMessageSlots => sizeof(int) + BlockLength(value.Length, Update(ref input)),
            Operation.ClaimDedupeInBlock => sizeof(int) + DedupeBlock.LengthAfterClaim(value.AsReadOnlySpan(), Claim(ref input).Low),
            Operation.WriteDedupeClaims => sizeof(int) + DedupeBlock.LengthAfterClaims(value.AsReadOnlySpan(), Claims(ref input)),
            _ => sizeof(int) + Math.Max(value.Length, input.Length),
        };
    }
}
