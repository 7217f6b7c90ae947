using System.Numerics;
using System.Runtime.InteropServices;

namespace ChatGateway.Storage.State;

/// <summary>
/// Format 4's message index: one index record per conversation and block of <see cref="Seqs"/> seqs, holding for
/// each seq where its journal record is and when it was sent. The message itself (sender, client id, body) is
/// read from the journal, which is kept for as long as messages are retained (docs/architecture.md).
/// <para>
/// Why: formats 2 and 3 gave every message an index key of its own, with a copy of the body, so the hash index
/// and its log grew with every message ever stored. Once the keys outnumbered the hash table's slots, lookups
/// walked overflow chains and one shard's rate fell from 852k to 498k msgs/s between 4 and 20 M messages
/// (bench/results/micro-chat.md, session 8). A block costs one key per 64 messages, and 16 bytes per message.
/// </para>
/// A block grows with its seqs (4, 8, 16, 32, then 64 slots), so a conversation of three messages holds 64
/// bytes, not 1 KiB. A slot whose <see cref="MessageSlot.Address"/> is 0 holds no message (journal addresses
/// start past 0).
/// </summary>
internal static class MessageBlock
{
    public const int Seqs = 64;
    private const int SmallestSlots = 4;

    public static readonly int SlotSize = Marshal.SizeOf<MessageSlot>();

    /// <summary>The largest value: a full block.</summary>
    public static readonly int MaxBytes = Seqs * SlotSize;

    public static long BlockOf(long seq) => seq / Seqs;

    public static int SlotOf(long seq) => (int)(seq % Seqs);

    /// <summary>The seq a block's last slot holds: once count retention deletes it, the whole block is gone.</summary>
    public static bool IsLastOfBlock(long seq) => SlotOf(seq) == Seqs - 1;

    /// <summary>Bytes of a block whose highest used slot is <paramref name="slot"/>: slots rounded up to a power of two.</summary>
    public static int BytesFor(int slot) => Math.Max(SmallestSlots, (int)BitOperations.RoundUpToPowerOf2((uint)slot + 1)) * SlotSize;
}

/// <summary>Where a message's journal record is (0: no message) and its timestamp, which age retention searches.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MessageSlot
{
    public long Address;
    public long Timestamp;
}

/// <summary>
/// The head of the read-modify-write input that sets a run of consecutive slots of one block
/// (<see cref="StateSession.SetMessageSlots"/>); the <see cref="Count"/> slots' values follow it.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MessageSlotsUpdate
{
    public static readonly int Size = Marshal.SizeOf<MessageSlotsUpdate>();

    public int FirstSlot;
    public int Count;

    public readonly int LastSlot => FirstSlot + Count - 1;
}
