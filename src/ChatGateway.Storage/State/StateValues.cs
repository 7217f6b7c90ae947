using System.Runtime.InteropServices;

namespace ChatGateway.Storage.State;

// Values of the index, stored as their raw bytes (blittable, little-endian on every platform .NET runs
// FASTER on). Each is read and written whole; adding a field means a new key kind, never a changed layout.

/// <summary>
/// Per conversation, as committed: the writer keeps its working copy in memory and writes this record only
/// after the group commit that covers it (see <see cref="StateMachine"/>), so a reader that sees Head = n
/// sees a durable n, which can never be lost and handed out again.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ConversationState
{
    public long Head;
    /// <summary>Lowest seq still held under the count limit (1 while nothing was deleted).</summary>
    public long EarliestSeq;
    public long MemberCount;
    /// <summary>Timestamp of the last message: the next one is stamped no earlier, so time never runs backwards within a conversation.</summary>
    public long LastTimestamp;
}

/// <summary>Header of a stored message; the body follows it in the same value.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MessageHeader
{
    public long Sender;
    public long Timestamp;
    public ulong ClientIdHigh;
    public ulong ClientIdLow;

    public static readonly int Size = Marshal.SizeOf<MessageHeader>();
}

[StructLayout(LayoutKind.Sequential)]
internal struct DedupeEntry
{
    public long Conversation;
    public long Seq;
    public long Timestamp;
}

[StructLayout(LayoutKind.Sequential)]
internal struct MemberEntry
{
    public long Index;
    public long JoinedAt;
}

[StructLayout(LayoutKind.Sequential)]
internal struct LongValue
{
    public long Value;
}

[StructLayout(LayoutKind.Sequential)]
internal struct UserState
{
    public long ConversationCount;
}

/// <summary>A user's pending queue: positions [Head, Tail) hold entries; Dropped counts entries lost to the depth limit since the last acknowledgement.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PendingHeader
{
    public long Head;
    public long Tail;
    public long Dropped;
    public long LastDropAt;
}

/// <summary>One conversation with messages the user has not acknowledged: seqs FromSeq..ToSeq, last one at LastAt.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PendingEntry
{
    public long Conversation;
    public long FromSeq;
    public long ToSeq;
    public long LastAt;
}

[StructLayout(LayoutKind.Sequential)]
internal struct PresenceRecord
{
    public long LastSeen;
    public long Status;
}
