using System.Buffers.Binary;

namespace ChatGateway.Storage;

/// <summary>
/// The id a client gives a message so that a retry can be recognised: 16 bytes, typically a UUID.
/// Shorter ids (a 64-bit counter, say) are zero-padded. All zero means "no id": never deduplicated.
/// </summary>
public readonly record struct ClientMessageId(ulong High, ulong Low)
{
    public const int Size = 16;

    public bool IsEmpty => High == 0 && Low == 0;

    /// <summary>Reads up to 16 bytes, zero-padded on the right.</summary>
    public static ClientMessageId FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > Size)
        {
            throw new ArgumentException("a client message id is at most 16 bytes", nameof(bytes));
        }
        Span<byte> padded = stackalloc byte[Size];
        padded.Clear();
        bytes.CopyTo(padded);
        return new ClientMessageId(BinaryPrimitives.ReadUInt64BigEndian(padded), BinaryPrimitives.ReadUInt64BigEndian(padded[8..]));
    }

    public static ClientMessageId FromGuid(Guid guid)
    {
        Span<byte> bytes = stackalloc byte[Size];
        guid.TryWriteBytes(bytes, bigEndian: true, out _);
        return FromBytes(bytes);
    }

    public void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, High);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Low);
    }

    public override string ToString() => $"{High:x16}{Low:x16}";
}
