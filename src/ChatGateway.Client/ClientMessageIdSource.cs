using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ChatGateway.Client;

/// <summary>
/// The ids this client gives its messages when the caller gives none: a random 64-bit prefix drawn once per client,
/// then a counter, as 16 big-endian bytes. As unique per sender as a random UUID (two clients of one user share ids
/// only by drawing the same prefix, 1 in 2^64), and ids that count up let the server keep one sender's recent ids
/// in neighbouring buckets of its dedupe index, where a random id costs a wait on memory per message
/// (docs/protocol.md, "Client message ids").
/// </summary>
internal sealed class ClientMessageIdSource
{
    private readonly ulong _prefix = BinaryPrimitives.ReadUInt64BigEndian(RandomNumberGenerator.GetBytes(8));
    private long _counter;

    public Guid Next()
    {
        Span<byte> id = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(id, _prefix);
        BinaryPrimitives.WriteUInt64BigEndian(id[8..], (ulong)Interlocked.Increment(ref _counter));
        return new Guid(id, bigEndian: true);
    }
}
