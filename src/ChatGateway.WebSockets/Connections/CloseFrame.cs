using System.Buffers;
using System.Buffers.Binary;
using ChatGateway.WebSockets.Framing;

namespace ChatGateway.WebSockets.Connections;

/// <summary>Reads the payload of a received close frame (RFC 6455 §5.5.1).</summary>
internal static class CloseFrame
{
    /// <summary>
    /// Returns 0 when the payload is valid, setting <paramref name="code"/> to the peer's code (1005 when it
    /// sent none); otherwise the code to fail the connection with: 1002 for a 1-byte payload or a code
    /// that may not be sent, 1007 for a reason that is not UTF-8.
    /// </summary>
    public static ushort Validate(in ReadOnlySequence<byte> payload, out ushort code)
    {
        code = WebSocketCloseCode.NoStatusReceived;
        if (payload.Length == 0)
        {
            return 0;
        }
        if (payload.Length == 1)
        {
            return WebSocketCloseCode.ProtocolError;
        }
        Span<byte> bytes = stackalloc byte[125]; // control payloads are at most 125 bytes
        payload.CopyTo(bytes);
        bytes = bytes[..(int)payload.Length];
        code = BinaryPrimitives.ReadUInt16BigEndian(bytes);
        if (!WebSocketCloseCode.IsValidOnWire(code))
        {
            return WebSocketCloseCode.ProtocolError;
        }
        var utf8 = new Utf8StreamValidator();
        if (!utf8.Append(bytes[2..]) || !utf8.IsComplete)
        {
            return WebSocketCloseCode.InvalidPayloadData;
        }
        return 0;
    }
}
