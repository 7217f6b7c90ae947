using ChatGateway.Storage.Disk;
using ChatGateway.Storage.Memory;
using FASTER.core;

namespace ChatGateway.Storage.Journal;

/// <summary>
/// The journal: a FasterLog under {directory}/journal, the source of truth for every change that must
/// survive a crash. Appends are buffered in memory; <see cref="CommitAsync"/> makes everything appended
/// before it durable (FastCommitMode puts the commit record in the log itself). On Linux the log is written
/// through <see cref="SegmentDevice"/> (O_DIRECT | O_DSYNC into zero-filled segments) and the commit metadata
/// through <see cref="CommitMetadataFile"/> (a 4 KiB overwrite in place, not a new file per commit). Records
/// carry their own CRC (see <see cref="JournalCodec"/>): FASTER's per-entry checksum is off because 2.6.5 never
/// verifies it on a scan. Segments of 64 MiB are removed once a checkpoint covers them and, from store format 4,
/// message retention no longer needs them (<see cref="JournalReader"/> reads message bodies from them).
/// </summary>
internal sealed class JournalLog : IDisposable
{
    public const long SegmentBytes = 64L * 1024 * 1024;

    /// <summary>
    /// Journal page size. Part of the on-disk format (entries never cross a page, so a reader with another
    /// page size misreads the log at the first page end): a constant, never derived from memory settings.
    /// 1 MiB holds the largest record (a 64 KiB body) many times over.
    /// </summary>
    public const long PageBytes = 1L << 20;

    /// <summary>One opened journal: the log and the files under it, disposed together.</summary>
    private sealed record Parts(FasterLog Log, FasterLogSettings Settings, IDevice Device, ILogCommitManager Commits) : IDisposable
    {
        public void Dispose()
        {
            Log.Dispose();
            Settings.Dispose();
            Commits.Dispose();
            Device.Dispose(); // ours to close: FASTER leaves a device it was given open
        }
    }

    private readonly Parts _parts;
    private readonly FasterLog _log;
    private readonly string _directory;
    private readonly LogPageStock? _pageStock;

    public JournalLog(string directory, StoreOptions options)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
        _parts = RecoverToNewestCommit(() => Open(directory, options));
        _log = _parts.Log;
        if (options.PrefaultLogPages)
        {
            _pageStock = LogPageStock.TryStart(_log, "journal");
        }
    }

    private static Parts Open(string directory, StoreOptions options)
    {
        string segments = Path.Combine(directory, "fasterlog.log"); // FASTER's own name: stores written before SegmentDevice open unchanged
        IDevice device = DirectFile.IsSupported ? new SegmentDevice(segments) : Devices.CreateLogDevice(segments);
        ILogCommitManager? commits = null;
        FasterLogSettings? settings = null;
        try
        {
            var fasterCommits = new DeviceLogCommitCheckpointManager(new LocalStorageNamedDeviceFactory(),
                new DefaultCheckpointNamingScheme(directory), removeOutdated: true);
            commits = fasterCommits;
            if (DirectFile.IsSupported)
            {
                commits = new CommitMetadataFile(Path.Combine(directory, "commit-metadata"), legacy: fasterCommits);
            }
            settings = new FasterLogSettings
            {
                LogDevice = device,
                LogCommitManager = commits,
                AutoCommit = false,
                FastCommitMode = true,
                LogChecksum = LogChecksumType.None,
                MemorySize = options.JournalMemoryBytes,
                PageSize = PageBytes,
                SegmentSize = SegmentBytes,
                TryRecoverLatest = false, // recovered by RecoverToNewestCommit, where a failure is seen instead of swallowed
            };
            return new Parts(new FasterLog(settings), settings, device, commits);
        }
        catch
        {
            settings?.Dispose();
            commits?.Dispose(); // the device's I/O thread and the files stay open otherwise
            device.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens the log at exactly its newest commit that has metadata, never scanning past it.
    /// <para>
    /// FASTER 2.6.5's own recovery (TryRecoverLatest) loads the newest metadata and then scans the log forward for
    /// later commit records. A crash can cut a page write short; when the scan parses torn bytes as a commit
    /// record, it overwrites the recovered commit with them before the checksum fails, and the log opened at
    /// garbage, usually EMPTY: every record after the last index checkpoint was lost and new appends overwrote
    /// them (the kill -9 test lost acknowledged messages about once in 60 runs; a captured store reproduced it
    /// every time, TornCommitRecordTests). Nothing acknowledged needs the scan: CommitAsync completes only after
    /// the commit's metadata is written. Metadata the crash left unreadable was not acknowledged either, so the
    /// next older commit is tried, each attempt with its own files (a failed one is disposed whole).
    /// </para>
    /// </summary>
    private static Parts RecoverToNewestCommit(Func<Parts> open)
    {
        Parts parts = open();
        long[] commits = [.. parts.Commits.ListCommits()]; // newest first
        foreach (long commit in commits)
        {
            try
            {
                parts.Log.Recover(commit);
                return parts;
            }
            catch (Exception ex) when (ex is FasterException or IOException or EndOfStreamException or InvalidDataException)
            {
                parts.Dispose(); // unreadable metadata (written when the crash came): try the one before
                parts = open();
            }
        }
        return parts; // a new journal
    }

    /// <summary>The journal's device when it is ours (Linux): tests inject write failures through it.</summary>
    internal SegmentDevice? Device => _parts.Device as SegmentDevice;

    /// <summary>Zeros written ahead of the tail by <see cref="SegmentDevice"/> (0 on other platforms).</summary>
    public long ZerosWritten => Device?.ZerosWritten ?? 0;

    public long BeginAddress => _log.BeginAddress;
    public long TailAddress => _log.TailAddress;
    public long CommittedUntilAddress => _log.CommittedUntilAddress;

    /// <summary>Appends one record; thread-safe. Returns its address.</summary>
    public long Append(ReadOnlySpan<byte> record) => _log.Enqueue(record);

    /// <summary>
    /// Durable once this completes: everything appended before the call. Throws <see cref="StoreException"/> once
    /// the device has failed a write (<see cref="DeviceWriteFailure"/>: FASTER would hang, or fail without saying why).
    /// </summary>
    public ValueTask CommitAsync(CancellationToken cancellationToken = default)
    {
        ValueTask commit = _log.CommitAsync(cancellationToken);
        return commit.IsCompletedSuccessfully ? commit : CommitOrFailAsync(commit);
    }

    /// <summary>Completes with the first failed write of the journal (never, on FASTER's own device).</summary>
    public Task<IOException> WriteFailure => DeviceWriteFailure.Of(_parts.Device);

    // One Task per commit still in flight when asked (one per batch, not per message): the price of not hanging.
    private ValueTask CommitOrFailAsync(ValueTask commit) =>
        new(DeviceWriteFailure.WhenWrittenAsync(commit.AsTask(), WriteFailure, "the journal could not be written"));

    /// <summary>Blocks until everything before <paramref name="untilAddress"/> is committed; false after <paramref name="timeout"/>.</summary>
    public bool WaitForCommit(long untilAddress, TimeSpan timeout)
    {
        using var expiry = new CancellationTokenSource(timeout);
        try
        {
            _log.WaitForCommitAsync(untilAddress, token: expiry.Token).AsTask().GetAwaiter().GetResult();
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>The file of segment <paramref name="segment"/> (addresses from segment × <see cref="SegmentBytes"/>).</summary>
    public string SegmentPath(long segment) => Path.Combine(_directory, "fasterlog.log." + segment);

    /// <summary>Marks everything before <paramref name="address"/> removable; whole segments go at the next commit.</summary>
    public void TruncateUntil(long address) => _log.TruncateUntil(address);

    /// <summary>An iterator over the committed records in [from, to).</summary>
    public FasterLogScanIterator Scan(long from, long to) => _log.Scan(from, to);

    /// <summary>
    /// Bytes written to the journal files past the committed end, up to the last non-zero byte. After a crash
    /// these are a batch torn mid-write (never acknowledged) or, when large, damage that made FASTER's recovery
    /// stop at an earlier commit. Read once at recovery, before anything is written (a buffered read: whatever it
    /// leaves in the page cache, the device's O_DIRECT writes invalidate); only the tail of the last segments.
    /// </summary>
    public long BytesPastCommit()
    {
        long address = _log.CommittedUntilAddress;
        long total = 0;
        for (long segment = address / SegmentBytes; ; segment++)
        {
            string path = SegmentPath(segment);
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

    /// <summary>The journal's page stock (<see cref="StoreOptions.PrefaultLogPages"/>), null when off.</summary>
    internal LogPageStock? PageStock => _pageStock;

    public void Dispose()
    {
        _pageStock?.Dispose(); // before the log: it adds to the log's page pool
        _parts.Dispose();
    }
}
