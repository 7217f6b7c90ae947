namespace ChatGateway.Protocol;

/// <summary>Fields of Hello: who the session is and the limits the server enforces.</summary>
public readonly record struct HelloFields(long User, string SessionId, long HeartbeatIntervalMs, int MaxBodyBytes, int MaxGroupMembers,
    long ServerTimeMs, long TokenExpiresMs, int MaxPageMessages, int ShardCount);

/// <summary>One conversation of a ConversationList.</summary>
public readonly record struct ConversationSummary(long Conversation, bool IsDirect, long Head, long ReadSeq, long Earliest, long MemberCount, long LastTimestamp);

/// <summary>What a MembershipEvent reports.</summary>
public enum MembershipChange : byte
{
    /// <summary>A group was created with these members.</summary>
    Created = 1,
    Added = 2,
    Removed = 3,
    /// <summary>The user left on their own.</summary>
    Left = 4,
}
