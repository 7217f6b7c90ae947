namespace ChatGateway.Protocol;

/// <summary>Fixed limits of the wire format itself (configurable server limits are announced in Hello).</summary>
public static class ProtocolLimits
{
    /// <summary>A client message id is at most 16 bytes (a UUID); shorter ids are zero-padded on the right.</summary>
    public const int MaxClientMessageIdBytes = 16;

    /// <summary>
    /// Fields this version does not know are skipped, which means walking their structure: deeper nesting than
    /// this is refused as malformed, so a hostile frame cannot recurse the decoder off its stack.
    /// </summary>
    public const int MaxSkipDepth = 32;

    /// <summary>Tokens in RefreshToken are at most this many bytes.</summary>
    public const int MaxTokenBytes = 8 * 1024;
}
