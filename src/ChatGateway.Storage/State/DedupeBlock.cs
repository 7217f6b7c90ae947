using System.Runtime.InteropServices;

namespace ChatGateway.Storage.State;

/// <summary>
/// Format 4's dedupe index: one index record per sender and block of 64 client message ids that differ only in the
/// last 6 bits of their low half (the SDK's ids are a per-device prefix and a counter, so a device's consecutive
/// messages share a block), holding each id's entry. Formats 2 and 3 gave every id a key of its own: a key per
/// message for as long as the store lives, which is what filled the hash table once message blocks had gone
/// (bench/results/micro-chat.md, session 9).
/// <para>
/// Layout: a <see cref="DedupeBlockHeader"/> (entries used, and a bitmap of which of the 64 ids are present: each
/// id of a block has its own bit, so an id never sent is known absent without a scan), then the entries in arrival
/// order. A block holds 1 entry, then grows to 4, 16 and 64 as ids arrive, so a client with random ids pays one
/// small entry per id, as before. A retry finds its id's bit and scans the entries.
/// </para>
/// </summary>
internal static class DedupeBlock
{
    public const int Ids = 64;

    public static readonly int HeaderSize = Marshal.SizeOf<DedupeBlockHeader>();
    public static readonly int EntrySize = Marshal.SizeOf<DedupeBlockEntry>();

    /// <summary>The part of the key that names the block: the id with its last 6 bits dropped.</summary>
    public static ClientMessageId BlockOf(ClientMessageId id) => new(id.High, id.Low / Ids);

    public static ulong BitOf(ulong low) => 1UL << (int)(low % Ids);

    public static int BytesFor(int entries) => HeaderSize + entries * EntrySize;

    public static int CapacityOf(int bytes) => (bytes - HeaderSize) / EntrySize;

    /// <summary>1, 4, 16, 64 entries: few copies as a counting device fills a block, little room unused for a random id.</summary>
    public static int Grown(int capacity) => Math.Min(Ids, capacity * 4);

    /// <summary>Bytes of <paramref name="block"/> after claiming <paramref name="low"/>: the same, unless a new id needs room.</summary>
    public static int LengthAfterClaim(ReadOnlySpan<byte> block, ulong low) => LengthAfterClaims(block, [new DedupeClaim { Low = low }]);

    /// <summary>
    /// Bytes of <paramref name="block"/> after writing <paramref name="claims"/> (distinct ids): the same, unless its
    /// new ids need room. An empty block stands for a block not yet in the index.
    /// </summary>
    public static int LengthAfterClaims(ReadOnlySpan<byte> block, ReadOnlySpan<DedupeClaim> claims)
    {
        ulong present = block.IsEmpty ? 0 : Header(block).Present;
        int held = block.IsEmpty ? 0 : (int)Header(block).Count;
        int needed = held;
        foreach (ref readonly DedupeClaim claim in claims)
        {
            needed += (present & BitOf(claim.Low)) == 0 ? 1 : 0;
        }
        if (needed > Ids)
        {
            // Each of a block's ids has its own bit, so an absent one always has room in a full-size block.
            throw new StoreCorruptedException($"dedupe block holding {held} ids has fewer bits set than ids, or {claims.Length} claims repeat ids");
        }
        int capacity = block.IsEmpty ? 1 : CapacityOf(block.Length);
        while (capacity < needed)
        {
            capacity = Grown(capacity);
        }
        return block.IsEmpty || capacity > CapacityOf(block.Length) ? BytesFor(capacity) : block.Length;
    }

    /// <summary>The ids the block holds, one bit each (<see cref="BitOf"/>).</summary>
    public static ulong PresentOf(ReadOnlySpan<byte> block) => Header(block).Present;

    /// <summary>A new block holding one id.</summary>
    public static void Create(Span<byte> block, in DedupeClaim claim)
    {
        block.Clear();
        ref DedupeBlockHeader header = ref MemoryMarshal.AsRef<DedupeBlockHeader>(block);
        header.Count = 1;
        header.Present = BitOf(claim.Low);
        Entries(block)[0] = new DedupeBlockEntry { Low = claim.Low, Entry = claim.Entry };
    }

    /// <summary>The entry of <paramref name="low"/>, if the block holds it.</summary>
    public static bool TryFind(ReadOnlySpan<byte> block, ulong low, out DedupeEntry entry)
    {
        int index = IndexOf(block, low);
        entry = index >= 0 ? MemoryMarshal.Cast<byte, DedupeBlockEntry>(block[HeaderSize..])[index].Entry : default;
        return index >= 0;
    }

    /// <summary>
    /// Writes the claim's entry: over the id's old entry, or as a new one. False when a new id does not fit (the
    /// caller copies the block into a bigger record, <see cref="LengthAfterClaim"/>, and claims there).
    /// </summary>
    public static bool TryWrite(Span<byte> block, in DedupeClaim claim)
    {
        ref DedupeBlockHeader header = ref MemoryMarshal.AsRef<DedupeBlockHeader>(block);
        Span<DedupeBlockEntry> entries = Entries(block);
        int index = IndexOf(block, claim.Low);
        if (index < 0)
        {
            if (header.Count >= entries.Length)
            {
                return false;
            }
            index = (int)header.Count++;
            header.Present |= BitOf(claim.Low);
        }
        entries[index] = new DedupeBlockEntry { Low = claim.Low, Entry = claim.Entry };
        return true;
    }

    private static int IndexOf(ReadOnlySpan<byte> block, ulong low)
    {
        ref readonly DedupeBlockHeader header = ref Header(block);
        if ((header.Present & BitOf(low)) == 0)
        {
            return -1;
        }
        ReadOnlySpan<DedupeBlockEntry> entries = MemoryMarshal.Cast<byte, DedupeBlockEntry>(block[HeaderSize..]);
        for (int i = 0; i < (int)header.Count && i < entries.Length; i++)
        {
            if (entries[i].Low == low)
            {
                return i;
            }
        }
        throw new StoreCorruptedException($"dedupe block marks id {low:x} present but does not hold it");
    }

    private static ref readonly DedupeBlockHeader Header(ReadOnlySpan<byte> block)
    {
        if (block.Length < BytesFor(1) || (block.Length - HeaderSize) % EntrySize != 0)
        {
            throw new StoreCorruptedException($"dedupe block of {block.Length} bytes");
        }
        return ref MemoryMarshal.AsRef<DedupeBlockHeader>(block);
    }

    private static Span<DedupeBlockEntry> Entries(Span<byte> block) => MemoryMarshal.Cast<byte, DedupeBlockEntry>(block[HeaderSize..]);
}

[StructLayout(LayoutKind.Sequential)]
internal struct DedupeBlockHeader
{
    public long Count;
    /// <summary>Bit i: the block holds the id whose low half ends in i (mod 64).</summary>
    public ulong Present;
}

[StructLayout(LayoutKind.Sequential)]
internal struct DedupeBlockEntry
{
    public ulong Low;
    public DedupeEntry Entry;
}

/// <summary>The input of a claim in a dedupe block: the id's low half and the entry to record.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct DedupeClaim
{
    public ulong Low;
    public DedupeEntry Entry;
}
