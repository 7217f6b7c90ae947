namespace ChatGateway.Storage.Reading;

/// <summary>A conversation's committed state. A conversation never written to has Head 0.</summary>
public readonly record struct ConversationInfo(long Conversation, long Head, long EarliestAvailable, long MemberCount, long LastTimestamp);
