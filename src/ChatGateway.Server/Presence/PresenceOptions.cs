namespace ChatGateway.Server.Presence;

/// <summary>Section "Presence": how status is derived from last_seen, and the bounds of queries and subscriptions.</summary>
public sealed class PresenceOptions
{
    /// <summary>Online while the user's last activity is younger than this.</summary>
    public TimeSpan OnlineWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Away after <see cref="OnlineWindow"/> until this age, offline after.</summary>
    public TimeSpan AwayWindow { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Users one session may subscribe to; more gets <c>bad_request</c> for the excess.</summary>
    public int MaxSubscriptionsPerSession { get; set; } = 500;

    /// <summary>Users one PresenceQuery or PresenceSubscribe may name.</summary>
    public int MaxUsersPerRequest { get; set; } = 500;

    /// <summary>Changes for one subscriber within this window go out as one PresenceEvent.</summary>
    public TimeSpan BatchInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How often due status transitions are evaluated (the resolution of the timer wheel).</summary>
    public TimeSpan SweepResolution { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>last_seen of a user whose status did not change is written to the store at most this often.</summary>
    public TimeSpan PersistInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Whose presence a user may see: only users they share a conversation with, or everyone.</summary>
    public PresenceVisibility Visibility { get; set; } = PresenceVisibility.SharedConversation;

    public void Validate()
    {
        if (OnlineWindow <= TimeSpan.Zero || AwayWindow <= OnlineWindow || MaxSubscriptionsPerSession < 1 || MaxUsersPerRequest < 1
            || BatchInterval <= TimeSpan.Zero || SweepResolution <= TimeSpan.Zero || PersistInterval <= TimeSpan.Zero)
        {
            throw new InvalidOperationException("Presence options out of range: see docs/operations.md");
        }
    }
}

public enum PresenceVisibility
{
    SharedConversation,
    Everyone,
}
