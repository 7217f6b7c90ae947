namespace ChatGateway.Storage;

/// <summary>Counters of an open store: writer batches (= group commits that carried records), journal records, checkpoints.</summary>
public readonly record struct StoreStats(long Batches, long Records, long Checkpoints, long JournalBytes, long Incarnation);
