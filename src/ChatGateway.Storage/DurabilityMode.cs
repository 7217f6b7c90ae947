namespace ChatGateway.Storage;

/// <summary>When a journaled write counts as done (like Redis's appendfsync always / everysec).</summary>
public enum DurabilityMode
{
    /// <summary>
    /// A write completes only after the journal commit that holds it has reached the disk. A crash
    /// (kill -9, power loss) loses nothing that completed.
    /// </summary>
    Commit,

    /// <summary>
    /// A write completes as soon as it is in the journal's memory; the journal is committed at least every
    /// <see cref="StoreOptions.RelaxedCommitInterval"/>. A crash may lose the writes of that last window,
    /// and their sequence numbers are then handed out again; <see cref="ChatStore.Incarnation"/> changes
    /// after such a crash. The gateway does not tell clients yet (docs/operations.md).
    /// </summary>
    Relaxed,
}
