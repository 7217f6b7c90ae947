using System.Buffers.Binary;

namespace ChatGateway.Protocol;

/// <summary>
/// The lengths of MessagePack integers, and values written straight into a span in the same (shortest) forms as <see cref="MessagePack.MessagePackWriter"/>
/// writes them, for the messages a server sends per message it receives (the Ack, the Deliver). The writer costs ~45 ns for an
/// Ack through an <see cref="System.Buffers.IBufferWriter{T}"/> (its setup, a span request per value, the flush);
/// these ~7 ns (session 20). The caller sizes the span: at most <see cref="MaxIntegerBytes"/> per integer.
/// </summary>
internal static class MessagePackSpan
{
    public const int MaxIntegerBytes = 9;

    /// <summary>Writes <paramref name="value"/> in its shortest form; returns the bytes written.</summary>
    public static int WriteInteger(Span<byte> destination, long value)
    {
        if (value >= 0)
        {
            if (value <= 0x7f)
            {
                destination[0] = (byte)value; // positive fixint
                return 1;
            }
            if (value <= byte.MaxValue)
            {
                destination[1] = (byte)value;
                destination[0] = 0xcc;
                return 2;
            }
            if (value <= ushort.MaxValue)
            {
                BinaryPrimitives.WriteUInt16BigEndian(destination[1..], (ushort)value);
                destination[0] = 0xcd;
                return 3;
            }
            if (value <= uint.MaxValue)
            {
                BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)value);
                destination[0] = 0xce;
                return 5;
            }
            BinaryPrimitives.WriteUInt64BigEndian(destination[1..], (ulong)value);
            destination[0] = 0xcf;
            return 9;
        }
        if (value >= -32)
        {
            destination[0] = (byte)(sbyte)value; // negative fixint
            return 1;
        }
        if (value >= sbyte.MinValue)
        {
            destination[1] = (byte)(sbyte)value;
            destination[0] = 0xd0;
            return 2;
        }
        if (value >= short.MinValue)
        {
            BinaryPrimitives.WriteInt16BigEndian(destination[1..], (short)value);
            destination[0] = 0xd1;
            return 3;
        }
        if (value >= int.MinValue)
        {
            BinaryPrimitives.WriteInt32BigEndian(destination[1..], (int)value);
            destination[0] = 0xd2;
            return 5;
        }
        BinaryPrimitives.WriteInt64BigEndian(destination[1..], value);
        destination[0] = 0xd3;
        return 9;
    }

    /// <summary>Bytes of the integer that <paramref name="first"/> starts (type byte included); 0 when it starts no integer.</summary>
    public static int IntegerLength(byte first) => first switch
    {
        < 0x80 or >= 0xe0 => 1, // positive and negative fixint
        0xcc or 0xd0 => 2,
        0xcd or 0xd1 => 3,
        0xce or 0xd2 => 5,
        0xcf or 0xd3 => 9,
        _ => 0,
    };

    /// <summary>Bytes of the header <see cref="WriteBinaryHeader"/> writes at most.</summary>
    public const int MaxBinaryHeaderBytes = 5;

    /// <summary>An int64 in its fixed 9-byte form (0xd3), whatever its value: room to patch it in place later.</summary>
    public static int WriteInt64(Span<byte> destination, long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(destination[1..], value);
        destination[0] = 0xd3;
        return 9;
    }

    /// <summary>The header of a bin of <paramref name="length"/> bytes, in the writer's form (bin 8 from length 0 on).</summary>
    public static int WriteBinaryHeader(Span<byte> destination, int length)
    {
        if (length <= byte.MaxValue)
        {
            destination[1] = (byte)length;
            destination[0] = 0xc4;
            return 2;
        }
        if (length <= ushort.MaxValue)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[1..], (ushort)length);
            destination[0] = 0xc5;
            return 3;
        }
        BinaryPrimitives.WriteUInt32BigEndian(destination[1..], (uint)length);
        destination[0] = 0xc6;
        return 5;
    }

    /// <summary>A bin holding <paramref name="value"/>.</summary>
    public static int WriteBinary(Span<byte> destination, scoped ReadOnlySpan<byte> value)
    {
        int header = WriteBinaryHeader(destination, value.Length);
        value.CopyTo(destination[header..]);
        return header + value.Length;
    }

    public static int WriteBoolean(Span<byte> destination, bool value)
    {
        destination[0] = value ? (byte)0xc3 : (byte)0xc2;
        return 1;
    }
}
