namespace ChatGateway.Server.Messaging;

/// <summary>Section "Chat": limits and policies of the chat layer. Every bound here has a documented policy when reached.</summary>
public sealed class ChatOptions
{
    /// <summary>Sequencer shards (each the single writer of its conversations, with its own journal). 0 = one per core. Fixed when the data folder is created.</summary>
    public int Shards { get; set; }

    /// <summary>Largest message body; larger sends get <c>too_large</c>.</summary>
    public int MaxBodyBytes { get; set; } = 64 * 1024 - 512;

    /// <summary>Members per group, creator included; more gets <c>group_full</c>.</summary>
    public int MaxGroupMembers { get; set; } = 1000;

    /// <summary>Open sessions per user; one more closes the user's oldest with 4002.</summary>
    public int MaxSessionsPerUser { get; set; } = 10;

    /// <summary>Largest page of Sync/History (messages); larger limits are lowered to it.</summary>
    public int MaxPageMessages { get; set; } = 200;

    /// <summary>A SyncResult stops adding messages past this many bytes (and says has_more).</summary>
    public int MaxPageBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest ListConversations page.</summary>
    public int MaxListConversations { get; set; } = 500;

    /// <summary>Pending entries sent per Pending message.</summary>
    public int MaxPendingPerMessage { get; set; } = 500;

    /// <summary>Frames queued for one session before it counts as a slow consumer (closed with 4008).</summary>
    public int MaxQueuedFrames { get; set; } = 4096;

    /// <summary>Bytes queued for one session before it counts as a slow consumer (closed with 4008).</summary>
    public long MaxQueuedBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Requests per second per connection (token bucket refill).</summary>
    public double RateMessagesPerSecond { get; set; } = 100;

    /// <summary>Requests a connection may send in a burst.</summary>
    public double RateMessagesBurst { get; set; } = 200;

    /// <summary>Inbound bytes per second per connection.</summary>
    public double RateBytesPerSecond { get; set; } = 512 * 1024;

    /// <summary>Inbound bytes a connection may send in a burst.</summary>
    public double RateBytesBurst { get; set; } = 2 * 1024 * 1024;

    /// <summary>Requests refused (rate limit, malformed) within <see cref="ViolationWindow"/> before the connection is closed with 1008.</summary>
    public int MaxViolations { get; set; } = 100;

    public TimeSpan ViolationWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Interval clients are asked to send Heartbeat at (in Hello).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Requests in flight per sequencer shard (queued on its store or being committed) before new ones get <c>busy</c>.</summary>
    public int SequencerQueueDepth { get; set; } = 65_536;

    /// <summary>How often sessions are checked for an expired token.</summary>
    public TimeSpan TokenCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    public void Validate()
    {
        if (MaxBodyBytes < 1 || MaxGroupMembers < 2 || MaxSessionsPerUser < 1 || MaxPageMessages < 1 || MaxPageBytes < MaxBodyBytes + 1024
            || MaxListConversations < 1 || MaxPendingPerMessage < 1 || MaxQueuedFrames < 16 || MaxQueuedBytes < MaxPageBytes * 2
            || RateMessagesPerSecond <= 0 || RateMessagesBurst < 1 || RateBytesPerSecond <= 0 || RateBytesBurst < MaxBodyBytes
            || MaxViolations < 1 || SequencerQueueDepth < 16 || Shards < 0 || Shards > 256)
        {
            throw new InvalidOperationException("Chat options out of range: see docs/operations.md for the allowed values");
        }
    }
}
