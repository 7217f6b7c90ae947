namespace ChatGateway.Storage;

/// <summary>
/// Settings of the durable store, bound from the configuration section "Storage". Defaults serve a
/// single node on a laptop. Every bound here has a documented policy for when it is reached.
/// </summary>
public sealed class StoreOptions
{
    /// <summary>Folder holding the journal, the index and its checkpoints. Only one process may open it.</summary>
    public string Directory { get; set; } = "data/store";

    public DurabilityMode Durability { get; set; } = DurabilityMode.Commit;

    /// <summary>On-disk format of a store created with these options; tests create older formats with it. Not configuration.</summary>
    internal int NewStoreFormat { get; set; } = Recovery.StoreMetadata.CurrentFormat;

    /// <summary>Journal segment files kept open for message reads; tests lower it. Not configuration.</summary>
    internal int JournalFilesOpenForReads { get; set; } = Journal.JournalReader.MaxOpenSegments;

    /// <summary>
    /// The cores the process may use, as the writer sees them (see <see cref="Writing.StoreWriter.BacklogStaysOnSubmitterOn"/>);
    /// null: <see cref="Environment.ProcessorCount"/>, which follows the process's affinity and CPU quota. Tests set it. Not configuration.
    /// </summary>
    internal int? ProcessorCount { get; set; }

    /// <summary>In <see cref="DurabilityMode.Relaxed"/>, the longest time a completed write may stay uncommitted.</summary>
    public TimeSpan RelaxedCommitInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Most writes taken into one group commit. Bigger batches raise throughput and latency alike.</summary>
    public int MaxBatchSize { get; set; } = 4096;

    /// <summary>
    /// Writes waiting for the writer. When full, awaited writes wait for room (backpressure) and writes queued with a
    /// callback are refused at once (<see cref="ChatStore.TryAppendMessage"/>): nothing is dropped silently.
    /// </summary>
    public int WriteQueueCapacity { get; set; } = 65536;

    /// <summary>Take a checkpoint after this long...</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>...or once the journal has grown this much since the last checkpoint, whichever comes first.</summary>
    public long CheckpointJournalBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Memory for the journal's tail, in 1 MiB pages. May change between runs: it is not part of the on-disk format.</summary>
    public long JournalMemoryBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Memory for the index's hybrid log: recent records are served from it; older ones are read from disk.
    /// (Stores of format 3 and older also keep every message's body there.)
    /// </summary>
    public long IndexMemoryBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// A background thread allocates and faults in the journal's and the index's next in-memory pages before their
    /// logs' tails reach them, until each buffer is allocated (<see cref="Memory.LogPageStock"/>). Otherwise the store's
    /// writer does it on its path, stalling every message behind it ~2.8 ms per 1 MiB page on our test machine, for
    /// as long as the buffers take to fill.
    /// </summary>
    public bool PrefaultLogPages { get; set; } = true;

    /// <summary>
    /// Memory for a copy of the most recent message records (1 MiB to 1 GiB, rounded up to a power of two): syncs
    /// and history within it read memory, older messages are read from the journal's files. When full, the
    /// oldest records are overwritten. May change between runs.
    /// </summary>
    public long RecentMessagesBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Size of the index's hash table in bytes (64 bytes per bucket of 7 entries).</summary>
    public long IndexHashBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>Per-user pending queue depth. When full the oldest entry is dropped and the queue marked truncated.</summary>
    public int PendingQueueDepth { get; set; } = 10_000;

    /// <summary>A pending entry with no new message for this long has expired: it is skipped and reported as such.</summary>
    public TimeSpan PendingTtl { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// How long a sender's client message id keeps mapping to its sequence number. A retry after this window
    /// is treated as a new message.
    /// </summary>
    public TimeSpan DedupeWindow { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Messages kept per conversation; older ones are deleted as new ones arrive. 0 = no count limit.</summary>
    public long RetainMessagesPerConversation { get; set; }

    /// <summary>
    /// Messages older than this are no longer returned (reported as truncated). Zero = keep forever. The journal,
    /// which holds message bodies, keeps its files for this long (measured from when they were written).
    /// </summary>
    public TimeSpan RetainMessagesFor { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Head room kept free on the store's disk on top of what FASTER may still have to flush (the journal and
    /// index pages in memory and one checkpoint; see <see cref="RequiredFreeBytes"/>). Below it, writes are
    /// refused with <see cref="StoreDiskFullException"/>, and resume by themselves once space is freed.
    /// FASTER 2.6.5 does not report a failed page flush of the index: it waits for it forever, so the store
    /// must never let the disk get that full.
    /// </summary>
    public long MinFreeDiskBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Free disk space below which writes are refused.</summary>
    public long RequiredFreeBytes => JournalMemoryBytes + 2 * IndexMemoryBytes + IndexHashBytes + MinFreeDiskBytes;

    /// <summary>Largest message body accepted by the store.</summary>
    public int MaxBodyBytes { get; set; } = 64 * 1024;

    public void Validate()
    {
        if (MaxBatchSize < 1 || WriteQueueCapacity < 1 || PendingQueueDepth < 1 || MaxBodyBytes < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), "batch, queue, depth and body limits must be positive");
        }
        if (JournalMemoryBytes < 4 << 20 || IndexMemoryBytes < 4 << 20 || IndexHashBytes < 1 << 16)
        {
            throw new ArgumentOutOfRangeException(nameof(IndexMemoryBytes), "memory sizes are too small (journal and index at least 4 MiB: four 1 MiB pages)");
        }
        if (RecentMessagesBytes is < 1 << 20 or > 1L << 30)
        {
            throw new ArgumentOutOfRangeException(nameof(RecentMessagesBytes), "the recent-message copy takes 1 MiB to 1 GiB");
        }
        if (RelaxedCommitInterval <= TimeSpan.Zero || CheckpointInterval <= TimeSpan.Zero || PendingTtl <= TimeSpan.Zero || DedupeWindow <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(CheckpointInterval), "intervals must be positive");
        }
    }
}
