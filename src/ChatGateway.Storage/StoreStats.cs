namespace ChatGateway.Storage;

/// <summary>
/// Counters of an open store: writer batches (= group commits that carried records, in Commit mode), journal
/// records, checkpoints, journal bytes held, and how many of them are committed (durable).
/// </summary>
public readonly record struct StoreStats(long Batches, long Records, long Checkpoints, long JournalBytes, long CommittedJournalBytes, long Incarnation);
