namespace ChatGateway.WebSockets.Framing;

/// <summary>Close status codes (RFC 6455 §7.4 and the IANA registry) used by this layer.</summary>
public static class WebSocketCloseCode
{
    public const ushort NormalClosure = 1000;
    public const ushort GoingAway = 1001;
    public const ushort ProtocolError = 1002;
    public const ushort UnsupportedData = 1003;
    /// <summary>Reserved: never sent on the wire. Reported locally when a close frame carried no code.</summary>
    public const ushort NoStatusReceived = 1005;
    /// <summary>Reserved: never sent on the wire. Reported locally when the TCP connection ended without a close frame.</summary>
    public const ushort AbnormalClosure = 1006;
    public const ushort InvalidPayloadData = 1007;
    public const ushort PolicyViolation = 1008;
    public const ushort MessageTooBig = 1009;
    public const ushort MandatoryExtension = 1010;
    public const ushort InternalError = 1011;
    public const ushort ServiceRestart = 1012;
    public const ushort TryAgainLater = 1013;
    public const ushort BadGateway = 1014;

    /// <summary>
    /// Whether a peer may send this code in a close frame: 1000–1003 and 1007–1014 (defined by
    /// RFC 6455 and registered with IANA), and 3000–4999 (libraries and applications).
    /// 1004–1006 and 1015 are reserved, everything else below 3000 is unassigned.
    /// </summary>
    public static bool IsValidOnWire(ushort code) =>
        code is >= 1000 and <= 1003 or >= 1007 and <= 1014 or >= 3000 and <= 4999;
}
