namespace ChatGateway.Storage;

/// <summary>
/// Counters of an open store: writer batches (= group commits that carried records, in Commit mode), journal
/// records, checkpoints, journal bytes held, and how many of them are committed (durable); the index's hash
/// table buckets (64 bytes, 7 keys each) and the overflow buckets chained to them in memory. Overflow buckets
/// are never freed while their keys live, and once they outnumber the table, every index operation walks a
/// chain: the writer's cost per message grows with them (docs/operations.md).
/// </summary>
public readonly record struct StoreStats(long Batches, long Records, long Checkpoints, long JournalBytes, long CommittedJournalBytes, long Incarnation,
    long IndexBuckets, long IndexOverflowBuckets);
