using System.Buffers.Binary;
using ChatGateway.WebSockets.Framing;

namespace ChatGateway.Benchmarks.WebSockets;

/// <summary>Masked client frames for the parser benchmarks.</summary>
internal static class MaskedFrames
{
    public const uint MaskKey = 0x37FA213D;

    public static byte[] Binary(int payloadLength)
    {
        var payload = new byte[payloadLength];
        new Random(42).NextBytes(payload);
        int headerLength = FrameWriter.HeaderLength(payloadLength) + 4;
        var frame = new byte[headerLength + payloadLength];
        FrameWriter.WriteHeader(frame, WebSocketOpcode.Binary, fin: true, payloadLength);
        frame[1] |= 0x80; // masked
        BinaryPrimitives.WriteUInt32LittleEndian(frame.AsSpan(headerLength - 4), MaskKey);
        payload.CopyTo(frame, headerLength);
        WebSocketMask.Apply(frame.AsSpan(headerLength), MaskKey, 0);
        return frame;
    }
}
