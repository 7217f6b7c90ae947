using ChatGateway.Protocol;

namespace ChatGateway.Server.Presence;

/// <summary>One open session as presence sees it.</summary>
public interface IPresenceSession
{
    long UserId { get; }

    /// <summary>Unix ms of the session's last inbound frame (any frame, a pong included).</summary>
    long LastActivityMs { get; }
}

/// <summary>A session subscribed to other users' presence.</summary>
public interface IPresenceSubscriber
{
    /// <summary>A batch of changes (coalesced: one entry per user, the latest). Must not block.</summary>
    void SendPresenceEvent(IReadOnlyList<PresenceEntry> changes);
}
