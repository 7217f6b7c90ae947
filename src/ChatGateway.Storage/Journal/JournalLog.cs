using FASTER.core;

namespace ChatGateway.Storage.Journal;

/// <summary>
/// The journal: a FasterLog under {directory}/journal, the source of truth for every change that must
/// survive a crash. Appends are buffered in memory; <see cref="CommitAsync"/> makes everything appended
/// before it durable (FastCommitMode puts the commit record in the log itself). On Linux the log is written
/// through <see cref="JournalDevice"/> (O_DIRECT | O_DSYNC into zero-filled segments) and the commit metadata
/// through <see cref="CommitMetadataFile"/> (a 4 KiB overwrite in place, not a new file per commit). Records carry their own CRC (see
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
    private readonly IDevice _device;
    private readonly ILogCommitManager _commits;
    private readonly FasterLog _log;
    private readonly string _directory;

    public JournalLog(string directory, StoreOptions options)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
        string segments = Path.Combine(directory, "fasterlog.log"); // FASTER's own name: stores written before JournalDevice open unchanged
        _device = DirectFile.IsSupported ? new JournalDevice(segments) : Devices.CreateLogDevice(segments);
        var fasterCommits = new DeviceLogCommitCheckpointManager(new LocalStorageNamedDeviceFactory(),
            new DefaultCheckpointNamingScheme(directory), removeOutdated: true);
        try
        {
            _commits = DirectFile.IsSupported ? new CommitMetadataFile(Path.Combine(directory, "commit-metadata"), legacy: fasterCommits) : fasterCommits;
        }
        catch
        {
            fasterCommits.Dispose();
            _device.Dispose();
            throw;
        }
        _settings = new FasterLogSettings
        {
            LogDevice = _device,
            LogCommitManager = _commits,
            AutoCommit = false,
            FastCommitMode = true,
            LogChecksum = LogChecksumType.None,
            MemorySize = options.JournalMemoryBytes,
            PageSize = PageBytes,
            SegmentSize = SegmentBytes,
        };
        try
        {
            _log = new FasterLog(_settings);
        }
        catch
        {
            _commits.Dispose(); // the device's I/O thread and the files stay open otherwise
            _device.Dispose();
            throw;
        }
    }

    /// <summary>Zeros written ahead of the tail by <see cref="JournalDevice"/> (0 on other platforms).</summary>
    public long ZerosWritten => (_device as JournalDevice)?.ZerosWritten ?? 0;

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
    public long BytesPastCommit() => PastCommit(clear: false);

    /// <summary>
    /// Overwrites the bytes past the committed end with zeros (and syncs them); returns how many there were.
    /// <para>
    /// Why: FASTER's recovery scans forward from its newest commit metadata for commit records, hops over zeros
    /// to the next page, and takes the last commit record it finds. Bytes an earlier run wrote past the commit
    /// this run recovered to would otherwise still be there behind this run's (shorter) writes, and a later
    /// recovery could take an old commit record from them: messages resurrected under seqs already reused.
    /// Clearing them once at open keeps "the journal past the tail is zeros" true for every later recovery.
    /// Reopen the log afterwards: FASTER already loaded the tail page, stale bytes included.
    /// </para>
    /// </summary>
    public long ClearPastCommit() => PastCommit(clear: true);

    private long PastCommit(bool clear)
    {
        long address = _log.CommittedUntilAddress;
        if (_device is JournalDevice device)
        {
            return device.PastAddress(address, clear);
        }
        long total = 0;
        for (long segment = address / SegmentBytes; ; segment++)
        {
            string path = Path.Combine(_directory, "fasterlog.log." + segment);
            if (!File.Exists(path))
            {
                return total;
            }
            long from = segment == address / SegmentBytes ? address % SegmentBytes : 0;
            long lastNonZero = -1;
            using (var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            {
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
            }
            long count = Math.Max(0, lastNonZero + 1 - from);
            if (clear && count > 0)
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
                var zeros = new byte[64 * 1024];
                file.Position = from;
                for (long left = count; left > 0; left -= zeros.Length)
                {
                    file.Write(zeros, 0, (int)Math.Min(zeros.Length, left));
                }
                file.Flush(flushToDisk: true);
            }
            total += count;
        }
    }

    public void Dispose()
    {
        _log.Dispose();
        _settings.Dispose();
        _commits.Dispose();
        _device.Dispose();
    }
}
