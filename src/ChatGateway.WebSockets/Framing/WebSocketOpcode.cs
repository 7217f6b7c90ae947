namespace ChatGateway.WebSockets.Framing;

/// <summary>The 4-bit opcode of a WebSocket frame (RFC 6455 §5.2). Values 3–7 and 11–15 are reserved.</summary>
public enum WebSocketOpcode : byte
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

internal static class WebSocketOpcodeExtensions
{
    public static bool IsControl(this WebSocketOpcode opcode) => ((byte)opcode & 0x8) != 0;

    public static bool IsDefined(this WebSocketOpcode opcode) => opcode switch
    {
        WebSocketOpcode.Continuation or WebSocketOpcode.Text or WebSocketOpcode.Binary
            or WebSocketOpcode.Close or WebSocketOpcode.Ping or WebSocketOpcode.Pong => true,
        _ => false,
    };
}
