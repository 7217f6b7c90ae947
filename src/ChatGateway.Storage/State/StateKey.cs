using System.Buffers.Binary;

namespace ChatGateway.Storage.State;

/// <summary>
/// Index keys: a kind byte and one or two 64-bit ids (or an id and a client message id), big-endian so
/// that keys of one kind compare like their ids. Callers pass a stack buffer of <see cref="MaxLength"/>.
/// </summary>
internal static class StateKey
{
    public const int MaxLength = 1 + 8 + ClientMessageId.Size;

    public static ReadOnlySpan<byte> Of(Span<byte> buffer, KeyKind kind, long id)
    {
        buffer[0] = (byte)kind;
        BinaryPrimitives.WriteInt64BigEndian(buffer[1..], id);
        return buffer[..9];
    }

    public static ReadOnlySpan<byte> Of(Span<byte> buffer, KeyKind kind, long id, long second)
    {
        buffer[0] = (byte)kind;
        BinaryPrimitives.WriteInt64BigEndian(buffer[1..], id);
        BinaryPrimitives.WriteInt64BigEndian(buffer[9..], second);
        return buffer[..17];
    }

    public static ReadOnlySpan<byte> Of(Span<byte> buffer, KeyKind kind, long id, ClientMessageId clientId)
    {
        buffer[0] = (byte)kind;
        BinaryPrimitives.WriteInt64BigEndian(buffer[1..], id);
        clientId.WriteTo(buffer[9..]);
        return buffer[..25];
    }
}
