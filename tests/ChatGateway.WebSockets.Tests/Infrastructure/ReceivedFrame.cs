using System.Buffers.Binary;
using System.Text;
using ChatGateway.WebSockets.Framing;

namespace ChatGateway.WebSockets.Tests.Infrastructure;

/// <summary>A frame as the server sent it.</summary>
public sealed record ReceivedFrame(WebSocketOpcode Opcode, bool Fin, byte Reserved, bool Masked, byte[] Payload)
{
    public string Text => Encoding.UTF8.GetString(Payload);

    /// <summary>The code of a close frame, or 1005 for an empty close payload.</summary>
    public ushort CloseCode => Payload.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(Payload) : WebSocketCloseCode.NoStatusReceived;
}
