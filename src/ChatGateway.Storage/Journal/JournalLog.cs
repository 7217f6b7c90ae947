using FASTER.core;

namespace ChatGateway.Storage.Journal;

/// <summary>
/// The journal: a FasterLog under {directory}/journal, the source of truth for every change that must
/// survive a crash. Appends are buffered in memory; <see cref="CommitAsync"/> makes everything appended
/// before it durable with one write (FastCommitMode puts the commit record in the log itself instead of a
/// second file: one synchronous write per group commit instead of two). Records carry their own CRC (see
/// <see cref="JournalCodec"/>): FASTER's per-entry checksum is off because 2.6.5 never verifies it on a
/// scan. Segments of 64 MiB are removed once a checkpoint covers them.
/// </summary>
internal sealed class JournalLog : IDisposable
{
    private const long SegmentBytes = 64L * 1024 * 1024;

    /// <summary>
    /// Journal page size. Part of the on-disk format (entries never cross a page, so a reader with another
    /// page size misreads the log at the first page end): a constant, never derived from memory settings.
    /// 1 MiB holds the largest record (a 64 KiB body) many times over.
    /// </summary>
    public const long PageBytes = 1L << 20;
    private readonly FasterLogSettings _settings;
    private readonly FasterLog _log;
    private readonly string _directory;

    public JournalLog(string directory, StoreOptions options)
    {
        _directory = directory;
        (_log, _settings) = RecoverToNewestCommit(directory, () => new FasterLogSettings(directory)
        {
            AutoCommit = false,
            FastCommitMode = true,
            LogChecksum = LogChecksumType.None,
            MemorySize = options.JournalMemoryBytes,
            PageSize = PageBytes,
            SegmentSize = SegmentBytes,
            TryRecoverLatest = false, // recovered below, where a failure is seen instead of swallowed
        });
    }

    /// <summary>
    /// Opens the log at exactly its newest commit that has a metadata file, never scanning past it.
    /// <para>
    /// FASTER 2.6.5's own recovery (TryRecoverLatest) loads the newest metadata and then scans the log forward for
    /// later commit records. A crash can cut a page write short (SIGKILL stops a buffered write at a 4 KiB
    /// boundary); when the scan parses torn bytes as a commit record, it overwrites the recovered commit with them
    /// before the checksum fails, and the log opened at garbage, usually EMPTY: every record after the last index
    /// checkpoint was lost and new appends overwrote them (the kill -9 test lost acknowledged messages about once
    /// in 60 runs; a captured store reproduced it every time). Nothing acknowledged needs the scan: CommitAsync
    /// completes only after the commit's metadata file is written. A metadata file the crash left unreadable was
    /// not acknowledged either, so the next older one is tried.
    /// </para>
    /// </summary>
    private static (FasterLog, FasterLogSettings) RecoverToNewestCommit(string directory, Func<FasterLogSettings> newSettings)
    {
        long[] commits;
        using (var manager = new DeviceLogCommitCheckpointManager(new LocalStorageNamedDeviceFactory(),
                   new DefaultCheckpointNamingScheme(directory), removeOutdated: false))
        {
            commits = [.. manager.ListCommits()]; // newest first
        }
        foreach (long commit in commits)
        {
            FasterLogSettings settings = newSettings(); // each attempt with its own devices: a failed one is disposed whole
            var log = new FasterLog(settings);
            try
            {
                log.Recover(commit);
                return (log, settings);
            }
            catch (Exception ex) when (ex is FasterException or IOException or EndOfStreamException or InvalidDataException)
            {
                log.Dispose(); // unreadable metadata (written when the crash came): try the one before
                settings.Dispose();
            }
        }
        FasterLogSettings fresh = newSettings();
        return (new FasterLog(fresh), fresh); // a new journal
    }

    public long BeginAddress => _log.BeginAddress;
    public long TailAddress => _log.TailAddress;
    public long CommittedUntilAddress => _log.CommittedUntilAddress;

    /// <summary>Appends one record; thread-safe. Returns its address.</summary>
    public long Append(ReadOnlySpan<byte> record) => _log.Enqueue(record);

    /// <summary>Durable once this completes: everything appended before the call.</summary>
    public ValueTask CommitAsync(CancellationToken cancellationToken = default) => _log.CommitAsync(cancellationToken);

    /// <summary>Marks everything before <paramref name="address"/> removable; whole segments go at the next commit.</summary>
    public void TruncateUntil(long address) => _log.TruncateUntil(address);

    /// <summary>An iterator over the committed records in [from, to).</summary>
    public FasterLogScanIterator Scan(long from, long to) => _log.Scan(from, to);

    /// <summary>
    /// Bytes written to the journal files past the committed end, up to the last non-zero byte. After a crash
    /// these are a batch torn mid-write (never acknowledged) or, when large, damage that made FASTER's recovery
    /// stop at an earlier commit. Read once at recovery: only the tail of the last segments is scanned.
    /// </summary>
    public long BytesPastCommit()
    {
        long address = _log.CommittedUntilAddress;
        long total = 0;
        for (long segment = address / SegmentBytes; ; segment++)
        {
            string path = Path.Combine(_directory, "fasterlog.log." + segment);
            if (!File.Exists(path))
            {
                return total;
            }
            long from = segment == address / SegmentBytes ? address % SegmentBytes : 0;
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            long lastNonZero = -1;
            var buffer = new byte[64 * 1024];
            file.Position = from;
            for (long position = from; ;)
            {
                int read = file.Read(buffer);
                if (read == 0)
                {
                    break;
                }
                int last = buffer.AsSpan(0, read).LastIndexOfAnyExcept((byte)0);
                if (last >= 0)
                {
                    lastNonZero = position + last;
                }
                position += read;
            }
            total += Math.Max(0, lastNonZero + 1 - from);
        }
    }

    public void Dispose()
    {
        _log.Dispose();
        _settings.Dispose();
    }
}
