namespace ChatGateway.Storage.Reading;

/// <summary>A user's last heartbeat and declared status (presence is not journaled: see <see cref="ChatStore.SetPresence"/>).</summary>
public readonly record struct PresenceInfo(long User, long LastSeen, int Status);
