using System.Buffers;

namespace ChatGateway.WebSockets.Framing;

/// <summary>
/// A complete, validated and unmasked frame. <see cref="Payload"/> points into the connection's
/// input buffers and is valid only until the reader advances past it.
/// </summary>
public readonly struct Frame
{
    public Frame(WebSocketOpcode opcode, bool fin, ReadOnlySequence<byte> payload)
    {
        Opcode = opcode;
        Fin = fin;
        Payload = payload;
    }

    public WebSocketOpcode Opcode { get; }
    public bool Fin { get; }
    public ReadOnlySequence<byte> Payload { get; }
}
