using System.Buffers;
using System.Buffers.Binary;

namespace ChatGateway.Protocol;

/// <summary>
/// Decodes the most common frame a server receives, a Send in one contiguous buffer, straight from its span:
/// <c>[1, rid, conversation, to_user, client_message_id, body]</c> with no trailing fields. Anything else, or
/// anything this reader would have to judge (a bad type, a range, a limit), is left to the general reader
/// (<see cref="ClientRequestReader"/>), which gives the same result or the documented error.
/// <para>
/// Why: the general reader walks a <see cref="MessagePack.MessagePackReader"/> over a <see cref="ReadOnlySequence{T}"/>, and
/// each field costs a type peek, a sequence-reader advance and a slice: with its MessagePack callees 8.9% of the
/// server's samples in the <c>pairs</c> benchmark (perf, session 20; 3.9% with this reader) for six fields. Here a field is a byte switch and a bounds check.
/// </para>
/// </summary>
internal static class SendFastReader
{
    private const byte FixArray6 = 0x96;
    private const byte Nil = 0xc0;

    /// <summary>True with the request decoded; false when the general reader must decide.</summary>
    public static bool TryRead(in ReadOnlySequence<byte> frame, out ClientRequest request)
    {
        request = default;
        if (!frame.IsSingleSegment)
        {
            return false;
        }
        ReadOnlySpan<byte> span = frame.FirstSpan;
        if (span.Length < 2 || span[0] != FixArray6 || span[1] != (byte)MessageType.Send)
        {
            return false;
        }
        int at = 2;
        if (!TryReadInteger(span, ref at, out long rid) || rid is < 0 or > uint.MaxValue
            || !TryReadInteger(span, ref at, out long conversation)
            || !TryReadInteger(span, ref at, out long toUser)
            || !TryReadBinary(span, ref at, out int idStart, out int idLength) || idLength > ProtocolLimits.MaxClientMessageIdBytes
            || !TryReadBinary(span, ref at, out int bodyStart, out int bodyLength)
            || at != span.Length)
        {
            return false;
        }
        // Field by field into the caller's struct: assigning a whole new ClientRequest copied it with a bulk
        // write-barrier move (it holds seven references), which alone cost more than the general reader's decode.
        request.Type = MessageType.Send;
        request.RequestId = (uint)rid;
        request.Conversation = conversation;
        request.ToUser = toUser;
        request.ClientMessageId = idLength == 0 ? ReadOnlySequence<byte>.Empty : frame.Slice(idStart, idLength);
        request.Body = bodyLength == 0 ? ReadOnlySequence<byte>.Empty : frame.Slice(bodyStart, bodyLength);
        return true;
    }

    /// <summary>Any MessagePack integer that fits a long (the general reader's ReadInt64); false for anything else.</summary>
    private static bool TryReadInteger(ReadOnlySpan<byte> span, ref int at, out long value)
    {
        value = 0;
        if (at >= span.Length)
        {
            return false;
        }
        byte code = span[at];
        if (code <= 0x7f || code >= 0xe0)
        {
            value = (sbyte)code; // positive or negative fixint
            at++;
            return true;
        }
        int size = MessagePackSpan.IntegerLength(code) - 1; // the value's bytes after the type byte
        if (size <= 0 || span.Length - at - 1 < size)
        {
            return false;
        }
        ReadOnlySpan<byte> bytes = span.Slice(at + 1, size);
        switch (code)
        {
            case 0xcc: value = bytes[0]; break;
            case 0xcd: value = BinaryPrimitives.ReadUInt16BigEndian(bytes); break;
            case 0xce: value = BinaryPrimitives.ReadUInt32BigEndian(bytes); break;
            case 0xcf:
                ulong unsigned = BinaryPrimitives.ReadUInt64BigEndian(bytes);
                if (unsigned > long.MaxValue)
                {
                    return false; // the general reader reports the overflow
                }
                value = (long)unsigned;
                break;
            case 0xd0: value = (sbyte)bytes[0]; break;
            case 0xd1: value = BinaryPrimitives.ReadInt16BigEndian(bytes); break;
            case 0xd2: value = BinaryPrimitives.ReadInt32BigEndian(bytes); break;
            default: value = BinaryPrimitives.ReadInt64BigEndian(bytes); break;
        }
        at += 1 + size;
        return true;
    }

    /// <summary>A bin 8/16/32 field, or nil (empty), as the offset and length of its bytes within the span.</summary>
    private static bool TryReadBinary(ReadOnlySpan<byte> span, ref int at, out int start, out int length)
    {
        start = length = 0;
        if (at >= span.Length)
        {
            return false;
        }
        byte code = span[at];
        if (code == Nil)
        {
            at++;
            return true;
        }
        int size = code switch
        {
            0xc4 => 1,
            0xc5 => 2,
            0xc6 => 4,
            _ => 0,
        };
        if (size == 0 || span.Length - at - 1 < size)
        {
            return false;
        }
        ReadOnlySpan<byte> header = span.Slice(at + 1, size);
        uint declared = size switch
        {
            1 => header[0],
            2 => BinaryPrimitives.ReadUInt16BigEndian(header),
            _ => BinaryPrimitives.ReadUInt32BigEndian(header),
        };
        start = at + 1 + size;
        if (declared > (uint)(span.Length - start))
        {
            return false; // truncated (or a hostile length): the general reader reports it
        }
        length = (int)declared;
        at = start + length;
        return true;
    }
}
