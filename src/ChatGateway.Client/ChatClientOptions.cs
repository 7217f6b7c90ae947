namespace ChatGateway.Client;

public sealed class ChatClientOptions
{
    /// <summary>Reconnect after a lost connection (not after 4002 session limit or 1008 policy closes).</summary>
    public bool AutoReconnect { get; set; } = true;

    /// <summary>First reconnect delay; doubles per failed attempt up to <see cref="MaxReconnectDelay"/>, with full jitter.</summary>
    public TimeSpan InitialReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a request waits for its answer before failing with <see cref="TimeoutException"/>.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Last seq this device holds per conversation (persisted by the application from <see cref="ChatClient.Positions"/>).
    /// Conversations not listed are synced from their first message.
    /// </summary>
    public IReadOnlyDictionary<long, long>? KnownPositions { get; set; }

    /// <summary>Events queued for the application (<see cref="ChatClient.Events"/>); a full queue pauses reading from the server.</summary>
    public int EventQueueCapacity { get; set; } = 65_536;

    /// <summary>Out-of-order deliveries kept per conversation while a gap is being filled; beyond it they are dropped (the fill fetches them).</summary>
    public int MaxBufferedPerConversation { get; set; } = 1024;

    /// <summary>Messages asked per Sync page while catching up.</summary>
    public int SyncPageSize { get; set; } = 200;

    /// <summary>Largest server message accepted.</summary>
    public int MaxReceiveBytes { get; set; } = 16 * 1024 * 1024;
}
