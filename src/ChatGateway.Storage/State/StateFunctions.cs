using System.Runtime.InteropServices;
using FASTER.core;

namespace ChatGateway.Storage.State;

/// <summary>
/// FASTER's callbacks for one index session: reads and writes of byte values as FASTER's own
/// <see cref="SpanByteFunctions{Context}"/>, plus the one read-modify-write the store uses, the dedupe claim
/// (<see cref="StateSession.ClaimDedupe"/>): write the new entry unless the key holds one still inside the
/// dedupe window, and report that one.
/// <para>
/// Why a read-modify-write: every message with a client id used to read its dedupe key (almost always absent)
/// and then upsert it, two hash lookups; the read was 14% of the writer's CPU at 256-message batches (perf).
/// </para>
/// The claim's parameters and result live in fields: a session runs one operation at a time on one thread, and
/// FASTER runs an operation's callbacks on that thread, also when <c>CompletePending</c> finishes one that went
/// to disk.
/// </summary>
internal sealed class StateFunctions : SpanByteFunctions<Empty>
{
    /// <summary>Entries with a timestamp at or after this are kept (the retry is a duplicate); older ones are replaced.</summary>
    public long FreshSince;

    /// <summary>Whether the last claim found a fresh entry, and that entry.</summary>
    public bool Found;
    public DedupeEntry Existing;

    public override bool InitialUpdater(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref SpanByteAndMemory output, ref RMWInfo rmwInfo)
    {
        Found = false;
        return base.InitialUpdater(ref key, ref input, ref value, ref output, ref rmwInfo);
    }

    public override bool InPlaceUpdater(ref SpanByte key, ref SpanByte input, ref SpanByte value, ref SpanByteAndMemory output, ref RMWInfo rmwInfo)
    {
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
        !Keep(ref oldValue);

    public override bool CopyUpdater(ref SpanByte key, ref SpanByte input, ref SpanByte oldValue, ref SpanByte newValue, ref SpanByteAndMemory output, ref RMWInfo rmwInfo)
    {
        Found = false;
        input.CopyTo(ref newValue);
        return true;
    }

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
}
