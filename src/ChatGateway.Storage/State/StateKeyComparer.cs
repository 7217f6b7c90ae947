using System.Buffers.Binary;
using ChatGateway.Storage.Recovery;
using FASTER.core;

namespace ChatGateway.Storage.State;

/// <summary>
/// Hashing of index keys. It is part of the on-disk format: the checkpointed hash index is laid out by it, so a
/// store keeps the hash of the format it was created with (<see cref="StoreMetadata.Format"/>).
/// <list type="bullet">
/// <item>Format 2 mixes every 8 bytes fully (murmur3's finaliser). FASTER's default for SpanByte is a
/// multiplicative hash over 2-byte chars whose top bits (the bucket tag) barely change when only the last bytes of
/// a key do; our keys are big-endian ids, whose varying bytes are last. Every lookup of an absent key (each new
/// dedupe id) then found a matching tag and followed its chain to disk.</item>
/// <item>Format 3 (<see cref="Near"/>) also puts keys that differ only in a counting last part (a conversation's
/// seqs, a sender's client message ids as the SDK makes them) four to a bucket, in neighbouring buckets. Written
/// one after another, they then find their bucket in the cache: with the index's 64 MiB of buckets each upsert
/// otherwise waited for one from memory, and that single load was ~10% of the writer's CPU (perf). Pipelined
/// appends at batch 256 went from 815 to 468 µs (bench/results/micro-storage.md, session 6).</item>
/// </list>
/// </summary>
internal sealed class StateKeyComparer : IFasterEqualityComparer<SpanByte>
{
    private static readonly StateKeyComparer Uniform = new(nearPositions: false);
    private static readonly StateKeyComparer Positional = new(nearPositions: true);

    private const int TwoIdKeyLength = 1 + 8 + 8;
    private const int ClientIdKeyLength = 1 + 8 + ClientMessageId.Size;

    private readonly bool _nearPositions;

    private StateKeyComparer(bool nearPositions) => _nearPositions = nearPositions;

    /// <summary>The hash a store of <paramref name="format"/> was laid out with.</summary>
    public static StateKeyComparer ForFormat(int format) => format >= 3 ? Positional : Uniform;

    public long GetHashCode64(ref SpanByte key) => _nearPositions ? PositionalHash(key.AsReadOnlySpan()) : UniformHash(key.AsReadOnlySpan());

    public bool Equals(ref SpanByte k1, ref SpanByte k2) => k1.AsReadOnlySpan().SequenceEqual(k2.AsReadOnlySpan());

    /// <summary>Format 3: keys [kind][id][position] and [kind][id][client id high][client id low] hash near their neighbours.</summary>
    public static long PositionalHash(ReadOnlySpan<byte> key)
    {
        switch (key.Length)
        {
            case TwoIdKeyLength:
                return Near(Mix(key[0] ^ Mix(BinaryPrimitives.ReadUInt64LittleEndian(key[1..]))), BinaryPrimitives.ReadUInt64BigEndian(key[9..]));
            case ClientIdKeyLength:
                ulong owner = Mix(key[0] ^ Mix(BinaryPrimitives.ReadUInt64LittleEndian(key[1..])) ^ BinaryPrimitives.ReadUInt64LittleEndian(key[9..]));
                return Near(owner, BinaryPrimitives.ReadUInt64BigEndian(key[17..]));
            default:
                return UniformHash(key);
        }
    }

    /// <summary>Format 2: every key scattered uniformly.</summary>
    public static long UniformHash(ReadOnlySpan<byte> bytes)
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

    /// <summary>
    /// FASTER takes the bucket from a hash's low bits and the tag that tells a bucket's entries apart from bits
    /// 48–61. The low 48 bits here are the owner's scattered base plus position / 4: positions 4k to 4k+3 share
    /// a bucket (a bucket holds 7 entries) and the next four take the next bucket. The tag mixes both, so the four
    /// carry different tags and a lookup follows no other key's chain. Owners still spread uniformly.
    /// </summary>
    private static long Near(ulong owner, ulong position)
    {
        ulong bucket = owner + (position >> 2);
        ulong tag = Mix(owner ^ position);
        return (long)((bucket & 0x0000_FFFF_FFFF_FFFFUL) | (tag & 0xFFFF_0000_0000_0000UL));
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
