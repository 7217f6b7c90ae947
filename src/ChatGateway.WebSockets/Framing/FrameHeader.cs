using System.Buffers;
using System.Buffers.Binary;

namespace ChatGateway.WebSockets.Framing;

/// <summary>A decoded frame header (RFC 6455 §5.2).</summary>
public readonly struct FrameHeader
{
    public FrameHeader(bool fin, byte reservedBits, WebSocketOpcode opcode, bool masked, uint maskKey, long payloadLength, int headerLength)
    {
        Fin = fin;
        ReservedBits = reservedBits;
        Opcode = opcode;
        Masked = masked;
        MaskKey = maskKey;
        PayloadLength = payloadLength;
        HeaderLength = headerLength;
    }

    public bool Fin { get; }
    /// <summary>RSV1..RSV3 as the low three bits (RSV1 = 4).</summary>
    public byte ReservedBits { get; }
    public WebSocketOpcode Opcode { get; }
    public bool Masked { get; }
    /// <summary>The 4 masking-key bytes as a little-endian uint (see <see cref="WebSocketMask"/>).</summary>
    public uint MaskKey { get; }
    public long PayloadLength { get; }
    /// <summary>Bytes of header on the wire: 2 to 14.</summary>
    public int HeaderLength { get; }

    /// <summary>The longest header: 2 + 8 (64-bit length) + 4 (mask).</summary>
    public const int MaxLength = 14;

    /// <summary>
    /// Decodes a header from the start of <paramref name="buffer"/>. Returns NeedMoreData when the header
    /// is not complete yet, InvalidData (with the close code to send) when the length is not minimally
    /// encoded or has its top bit set. Other rules (RSV, opcode, masking) are the reader's to apply.
    /// </summary>
    public static OperationStatus TryRead(in ReadOnlySequence<byte> buffer, out FrameHeader header, out ushort closeCode)
    {
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= MaxLength || first.Length == buffer.Length)
        {
            return TryRead(first, out header, out closeCode);
        }
        // The header straddles segments: copy at most 14 bytes; rare with 4 KiB pipe segments.
        Span<byte> copy = stackalloc byte[MaxLength];
        int length = (int)Math.Min(buffer.Length, MaxLength);
        buffer.Slice(0, length).CopyTo(copy);
        return TryRead(copy[..length], out header, out closeCode);
    }

    public static OperationStatus TryRead(ReadOnlySpan<byte> data, out FrameHeader header, out ushort closeCode)
    {
        header = default;
        closeCode = 0;
        if (data.Length < 2)
        {
            return OperationStatus.NeedMoreData;
        }

        byte b0 = data[0];
        byte b1 = data[1];
        bool masked = (b1 & 0x80) != 0;
        int length7 = b1 & 0x7F;
        int extended = length7 switch { 126 => 2, 127 => 8, _ => 0 };
        int headerLength = 2 + extended + (masked ? 4 : 0);
        if (data.Length < headerLength)
        {
            return OperationStatus.NeedMoreData;
        }

        long payloadLength;
        if (extended == 0)
        {
            payloadLength = length7;
        }
        else if (extended == 2)
        {
            payloadLength = BinaryPrimitives.ReadUInt16BigEndian(data[2..]);
            if (payloadLength < 126)
            {
                closeCode = WebSocketCloseCode.ProtocolError; // not the minimal encoding (§5.2)
                return OperationStatus.InvalidData;
            }
        }
        else
        {
            ulong length64 = BinaryPrimitives.ReadUInt64BigEndian(data[2..]);
            if (length64 > long.MaxValue || length64 <= ushort.MaxValue)
            {
                closeCode = WebSocketCloseCode.ProtocolError; // top bit set, or not the minimal encoding
                return OperationStatus.InvalidData;
            }
            payloadLength = (long)length64;
        }

        uint maskKey = masked ? BinaryPrimitives.ReadUInt32LittleEndian(data[(2 + extended)..]) : 0;
        header = new FrameHeader(
            fin: (b0 & 0x80) != 0,
            reservedBits: (byte)((b0 >> 4) & 0x7),
            opcode: (WebSocketOpcode)(b0 & 0x0F),
            masked: masked,
            maskKey: maskKey,
            payloadLength: payloadLength,
            headerLength: headerLength);
        return OperationStatus.Done;
    }
}
