namespace ChatGateway.Protocol;

/// <summary>
/// WebSocket close codes the chat layer uses, beside the transport's (1002, 1007, 1009…). 4000–4999 are
/// private-use codes under RFC 6455 §7.4.2. Values are on the wire.
/// </summary>
public static class CloseCode
{
    /// <summary>1000: the server closed normally.</summary>
    public const ushort Normal = 1000;
    /// <summary>1001: the server is shutting down (reconnect, possibly to another node).</summary>
    public const ushort GoingAway = 1001;
    /// <summary>1003: a text frame arrived; the chat protocol is binary MessagePack only.</summary>
    public const ushort UnsupportedData = 1003;
    /// <summary>1008: persistent abuse: rate limit exceeded again and again, or too many malformed frames.</summary>
    public const ushort PolicyViolation = 1008;
    /// <summary>1011: an unexpected server error.</summary>
    public const ushort InternalError = 1011;
    /// <summary>4001: the access token expired and was not refreshed in time: reconnect with a new token.</summary>
    public const ushort TokenExpired = 4001;
    /// <summary>4002: the user opened more sessions than allowed; the oldest is closed.</summary>
    public const ushort SessionLimit = 4002;
    /// <summary>4008: the client did not read fast enough and its outbound queue overflowed: reconnect and sync.</summary>
    public const ushort SlowConsumer = 4008;
}
