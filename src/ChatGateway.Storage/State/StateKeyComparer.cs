using System.Buffers.Binary;
using FASTER.core;

namespace ChatGateway.Storage.State;

/// <summary>
/// Hashing of index keys. FASTER's default for SpanByte is a multiplicative hash over 2-byte chars whose top bits
/// (the bucket tag) barely change when only the last bytes of a key do; our keys are big-endian ids, whose
/// varying bytes are last. Every lookup of an absent key (each new dedupe id) then found a matching tag and
/// followed its chain to disk: measured as the largest cost of an append once the log had spilled. This hash
/// mixes every 8 bytes fully (murmur3's finaliser). It is part of the on-disk format: the checkpointed hash
/// index is laid out by it (<see cref="Recovery.StoreMetadata.Format"/> 2).
/// </summary>
internal sealed class StateKeyComparer : IFasterEqualityComparer<SpanByte>
{
    public static readonly StateKeyComparer Instance = new();

    public long GetHashCode64(ref SpanByte key) => Hash(key.AsReadOnlySpan());

    public bool Equals(ref SpanByte k1, ref SpanByte k2) => k1.AsReadOnlySpan().SequenceEqual(k2.AsReadOnlySpan());

    public static long Hash(ReadOnlySpan<byte> bytes)
    {
        ulong hash = 0x9E3779B97F4A7C15UL ^ (ulong)bytes.Length;
        while (bytes.Length >= 8)
        {
            hash = Mix(hash ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes));
            bytes = bytes[8..];
        }
        if (!bytes.IsEmpty)
        {
            ulong tail = 0;
            for (int i = 0; i < bytes.Length; i++)
            {
                tail |= (ulong)bytes[i] << (8 * i);
            }
            hash = Mix(hash ^ tail);
        }
        return (long)hash;
    }

    private static ulong Mix(ulong x)
    {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdUL;
        x ^= x >> 33;
        x *= 0xc4ceb9fe1a85ec53UL;
        x ^= x >> 33;
        return x;
    }
}
