using System.Buffers;
using System.Buffers.Binary;

namespace ChatGateway.WebSockets.Framing;

/// <summary>Encodes server frames: never masked (RFC 6455 §5.1), with the minimal length encoding.</summary>
public static class FrameWriter
{
    /// <summary>Bytes of header a server frame of this payload length needs: 2, 4 or 10.</summary>
    public static int HeaderLength(long payloadLength) => payloadLength switch
    {
        <= 125 => 2,
        <= ushort.MaxValue => 4,
        _ => 10,
    };

    /// <summary>Writes a header into <paramref name="destination"/> and returns its length.</summary>
    public static int WriteHeader(Span<byte> destination, WebSocketOpcode opcode, bool fin, long payloadLength)
    {
        destination[0] = (byte)((fin ? 0x80 : 0) | (byte)opcode);
        if (payloadLength <= 125)
        {
            destination[1] = (byte)payloadLength;
            return 2;
        }
        if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payloadLength);
            return 4;
        }
        destination[1] = 127;
        BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payloadLength);
        return 10;
    }

    /// <summary>Writes one whole frame into <paramref name="output"/> (no flush).</summary>
    public static void WriteFrame(IBufferWriter<byte> output, WebSocketOpcode opcode, bool fin, ReadOnlySpan<byte> payload)
    {
        int headerLength = HeaderLength(payload.Length);
        Span<byte> span = output.GetSpan(headerLength + Math.Min(payload.Length, 4096));
        WriteHeader(span, opcode, fin, payload.Length);
        if (span.Length >= headerLength + payload.Length)
        {
            payload.CopyTo(span[headerLength..]);
            output.Advance(headerLength + payload.Length);
            return;
        }
        output.Advance(headerLength);
        output.Write(payload);
    }

    /// <summary>Writes one whole frame whose payload is a (possibly multi-segment) sequence.</summary>
    public static void WriteFrame(IBufferWriter<byte> output, WebSocketOpcode opcode, bool fin, in ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment)
        {
            WriteFrame(output, opcode, fin, payload.FirstSpan);
            return;
        }
        Span<byte> span = output.GetSpan(10);
        output.Advance(WriteHeader(span, opcode, fin, payload.Length));
        foreach (ReadOnlyMemory<byte> segment in payload)
        {
            output.Write(segment.Span);
        }
    }

    /// <summary>Writes a close frame with a status code and a UTF-8 reason of at most 123 bytes.</summary>
    public static void WriteClose(IBufferWriter<byte> output, ushort code, ReadOnlySpan<byte> reason)
    {
        Span<byte> payload = stackalloc byte[125];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        int reasonLength = Math.Min(reason.Length, 123);
        reason[..reasonLength].CopyTo(payload[2..]);
        WriteFrame(output, WebSocketOpcode.Close, fin: true, payload[..(2 + reasonLength)]);
    }
}
