using System.Buffers.Binary;

namespace ChatGateway.Storage.Journal;

/// <summary>
/// Binary layout of journal records, little-endian: [format u8][kind u8][conversation i64][seq i64]
/// [user i64][timestamp i64][aux i64][client id 16][body length u32][body][crc32c u32]. One fixed header
/// for every kind keeps the codec trivial. The CRC-32C trailer covers every byte before it: FASTER 2.6.5
/// writes a per-entry checksum but does not verify it when scanning, so damage would otherwise replay as data.
/// </summary>
internal static class JournalCodec
{
    public const byte Format = 1;
    public const int HeaderSize = 2 + 5 * 8 + ClientMessageId.Size + 4;
    private const int TrailerSize = 4;

    public static int EncodedLength(int bodyLength) => HeaderSize + bodyLength + TrailerSize;

    public static int Encode(Span<byte> destination, scoped in JournalRecord record)
    {
        destination[0] = Format;
        destination[1] = (byte)record.Kind;
        BinaryPrimitives.WriteInt64LittleEndian(destination[2..], record.Conversation);
        BinaryPrimitives.WriteInt64LittleEndian(destination[10..], record.Seq);
        BinaryPrimitives.WriteInt64LittleEndian(destination[18..], record.User);
        BinaryPrimitives.WriteInt64LittleEndian(destination[26..], record.Timestamp);
        BinaryPrimitives.WriteInt64LittleEndian(destination[34..], record.Aux);
        record.ClientId.WriteTo(destination[42..]);
        BinaryPrimitives.WriteInt32LittleEndian(destination[58..], record.Body.Length);
        record.Body.CopyTo(destination[HeaderSize..]);
        int length = HeaderSize + record.Body.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[length..], Crc32C.Compute(destination[..length]));
        return length + TrailerSize;
    }

    /// <summary>False when the bytes are not an intact record this version wrote (damage, or a newer format).</summary>
    public static bool TryDecode(ReadOnlySpan<byte> source, out JournalRecord record)
    {
        record = default;
        if (source.Length < HeaderSize + TrailerSize
            || Crc32C.Compute(source[..^TrailerSize]) != BinaryPrimitives.ReadUInt32LittleEndian(source[^TrailerSize..])
            || source[0] != Format || source[1] is < 1 or > 6)
        {
            return false;
        }
        int bodyLength = BinaryPrimitives.ReadInt32LittleEndian(source[58..]);
        if (bodyLength < 0 || bodyLength != source.Length - HeaderSize - TrailerSize)
        {
            return false;
        }
        record.Kind = (RecordKind)source[1];
        record.Conversation = BinaryPrimitives.ReadInt64LittleEndian(source[2..]);
        record.Seq = BinaryPrimitives.ReadInt64LittleEndian(source[10..]);
        record.User = BinaryPrimitives.ReadInt64LittleEndian(source[18..]);
        record.Timestamp = BinaryPrimitives.ReadInt64LittleEndian(source[26..]);
        record.Aux = BinaryPrimitives.ReadInt64LittleEndian(source[34..]);
        record.ClientId = ClientMessageId.FromBytes(source.Slice(42, ClientMessageId.Size));
        record.Body = source.Slice(HeaderSize, bodyLength);
        return true;
    }
}
