namespace ChatGateway.Protocol;

/// <summary>Codes of the <see cref="MessageType.Error"/> message (docs/protocol.md lists when each is sent).</summary>
public static class ErrorCode
{
    /// <summary>The frame is not a MessagePack array of a known shape: truncated, wrong field types, unknown type, extra nesting.</summary>
    public const string Malformed = "malformed";
    /// <summary>The frame is well formed but a field's value is not allowed (both or neither target of a Send, limit 0, an empty member list…).</summary>
    public const string BadRequest = "bad_request";
    /// <summary>The caller is not a member of the conversation (also for conversations that do not exist: no probing).</summary>
    public const string NotMember = "not_member";
    /// <summary>The message body is over the server's limit (Hello tells it).</summary>
    public const string TooLarge = "too_large";
    /// <summary>A group would exceed the member limit (Hello tells it).</summary>
    public const string GroupFull = "group_full";
    /// <summary>A membership change on a 1:1 conversation, whose members are fixed.</summary>
    public const string NotAGroup = "not_a_group";
    /// <summary>Over the per-connection message or byte rate: the request was dropped, retry later.</summary>
    public const string RateLimited = "rate_limited";
    /// <summary>RefreshToken with a token that is invalid, expired, or for another user.</summary>
    public const string InvalidToken = "invalid_token";
    /// <summary>The server is shutting down or its storage failed: the request was not carried out (safe to retry elsewhere or later).</summary>
    public const string Unavailable = "unavailable";
    /// <summary>The server is saturated (a sequencer queue is full): the request was not carried out, retry with backoff.</summary>
    public const string Busy = "busy";
}
