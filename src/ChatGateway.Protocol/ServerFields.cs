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

/// <summary>A user's presence: online (active within the last 30 s), away (30 s to 5 min), offline.</summary>
public enum PresenceStatus : byte
{
    Offline = 0,
    Away = 1,
    Online = 2,
}

/// <summary>One user's presence; <see cref="LastSeen"/> is Unix ms (0: never seen).</summary>
public readonly record struct PresenceEntry(long User, PresenceStatus Status, long LastSeen);

/// <summary>What a client may declare with SetStatus; <see cref="Auto"/> lets activity decide.</summary>
public enum DeclaredStatus : byte
{
    Auto = 0,
    /// <summary>Shown as away while the user is active (an app in the background, say); offline still wins.</summary>
    Away = 1,
}
