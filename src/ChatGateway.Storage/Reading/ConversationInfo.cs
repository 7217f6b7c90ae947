namespace ChatGateway.Storage.Reading;

/// <summary>A conversation's committed state. A conversation never written to has Head 0.</summary>
public readonly record struct ConversationInfo(long Conversation, long Head, long EarliestAvailable, long MemberCount, long LastTimestamp);

/// <summary>A user's last heartbeat and declared status (presence is not journaled: see <see cref="ChatStore.SetPresence"/>).</summary>
public readonly record struct PresenceInfo(long User, long LastSeen, int Status);

/// <summary>Counters of an open store.</summary>
public readonly record struct StoreStats(long Batches, long Records, long Checkpoints, long JournalBytes, long Incarnation);
