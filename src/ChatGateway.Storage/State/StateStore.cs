using ChatGateway.Storage.Disk;
using System.Collections.Concurrent;
using ChatGateway.Storage.Memory;
using FASTER.core;

namespace ChatGateway.Storage.State;

/// <summary>
/// The index: one FasterKV of byte keys and values under {directory}/index, its hybrid log spilling to
/// disk past <see cref="StoreOptions.IndexMemoryBytes"/>, and checkpoints that we name and purge ourselves
/// (FASTER's own "remove outdated" would delete the previous checkpoint before our metadata stops pointing at it).
/// </summary>
internal sealed class StateStore : IDisposable
{
    private readonly FasterKVSettings<SpanByte, SpanByte> _settings;
    private readonly IDevice _device;
    private readonly CheckpointDeviceFactory _checkpointFiles = new();
    private readonly DefaultCheckpointNamingScheme _checkpointNames;
    private readonly DeviceLogCommitCheckpointManager _checkpoints;
    private readonly FasterKV<SpanByte, SpanByte> _kv;
    private readonly ConcurrentBag<StateSession> _readers = [];

    /// <summary>The hybrid log's page stock (<see cref="StoreOptions.PrefaultLogPages"/>), null when off.</summary>
    internal LogPageStock? PageStock { get; }

    /// <summary>Page size of the index's hybrid log: part of its on-disk format, so a constant (see <see cref="Journal.JournalLog.PageBytes"/>).</summary>
    public const long PageBytes = 1L << 20;

    /// <param name="format">The store's on-disk format, which picks the key hash (<see cref="StateKeyComparer.ForFormat"/>).</param>
    public StateStore(string directory, StoreOptions options, int format)
    {
        string checkpointDir = Path.Combine(directory, "checkpoints");
        _checkpointNames = new DefaultCheckpointNamingScheme(checkpointDir);
        _checkpoints = new DeviceLogCommitCheckpointManager(
            _checkpointFiles,
            _checkpointNames,
            removeOutdated: false);
        _device = DirectFile.IsSupported ? new SegmentDevice(Path.Combine(directory, "hlog.log")) : Devices.CreateLogDevice(Path.Combine(directory, "hlog.log"));
        _settings = new FasterKVSettings<SpanByte, SpanByte>(baseDir: null)
        {
            LogDevice = _device,
            CheckpointManager = _checkpoints,
            MemorySize = options.IndexMemoryBytes,
            PageSize = PageBytes,
            IndexSize = options.IndexHashBytes,
            EqualityComparer = StateKeyComparer.ForFormat(format),
            RemoveOutdatedCheckpoints = false,
            // Per-record locks: presence is written from any thread, and records updated in place are read concurrently.
            ConcurrencyControlMode = ConcurrencyControlMode.RecordIsolation,
            // No read cache: FASTER 2.6.5's read cache returned stale conversation heads and threw during replay in
            // our kill -9 tests (2 runs in 8). Records the writer consults on every message are cached by the state
            // machine instead (StateMachine.IsMember, conversation states).
        };
        _kv = new FasterKV<SpanByte, SpanByte>(_settings);
        if (options.PrefaultLogPages)
        {
            PageStock = LogPageStock.TryStart(_kv, "index");
        }
    }

    public void Recover(Guid checkpoint) => _kv.Recover(checkpoint, checkpoint);

    /// <summary>Buckets of the hash table (its size in bytes / 64).</summary>
    public long IndexBuckets => _kv.IndexSize;

    /// <summary>Overflow buckets allocated so far (FASTER reads one counter: cheap from any thread).</summary>
    public long IndexOverflowBuckets => _kv.OverflowBucketCount;

    /// <summary>The log's device, when it is ours (Linux); tests inject write errors through it.</summary>
    internal SegmentDevice? Device => _device as SegmentDevice;

    /// <summary>Completes with the first failed write of the index's log (never, on FASTER's own device).</summary>
    public Task<IOException> WriteFailure => DeviceWriteFailure.Of(_device);

    /// <summary>The devices of the checkpoint files; tests inject write errors through them.</summary>
    internal CheckpointDeviceFactory CheckpointFiles => _checkpointFiles;

    public StateSession NewSession() => new(_kv);

    /// <summary>The writer's second session, for <see cref="StateSession.Prefetch"/>: what it reads from disk is copied back into memory.</summary>
    public StateSession NewPrefetchSession() => new(_kv, copyColdReadsToTail: true);

    /// <summary>A rented reader session, returned to the pool when disposed (<c>using Reader reader = store.RentReader();</c>).</summary>
    public readonly struct Reader(StateStore store, StateSession session) : IDisposable
    {
        public StateSession Session => session;

        public void Dispose() => store._readers.Add(session);
    }

    /// <summary>Rents a reader session (one per concurrent reader; they are kept for reuse).</summary>
    public Reader RentReader()
    {
        if (!_readers.TryTake(out StateSession? session))
        {
            session = new StateSession(_kv);
        }
        return new Reader(this, session);
    }

    /// <summary>
    /// A full (hash index + log) checkpoint. The caller makes sure no write is half-applied.
    /// <para>
    /// Fold-over, not snapshot: a snapshot writes the log's whole in-memory part (up to IndexMemoryBytes) to a
    /// separate file at every checkpoint, through FASTER's buffered device; a fold-over flushes only what is not
    /// on disk yet, through <see cref="Disk.SegmentDevice"/>, and makes it read-only (a record updated after it is
    /// copied to the tail). In the pairs benchmark (a checkpoint every ~8 s) the snapshots' page-cache copy was
    /// 10% of the server's CPU (2.7% with fold-overs, the hash index file): delivered per server CPU-second
    /// +6–8% (two interleaved rounds, docs/benchmarks.md).
    /// </para>
    /// </summary>
    public async Task<Guid> CheckpointAsync()
    {
        Task<(bool, Guid)> checkpoint = _kv.TakeFullCheckpointAsync(CheckpointType.FoldOver).AsTask();
        // FASTER would wait for a failed page flush forever; the checkpoint is then abandoned with the store.
        await DeviceWriteFailure.WhenWrittenAsync(checkpoint, WriteFailure, "the index checkpoint could not be written").ConfigureAwait(false);
        (bool success, Guid token) = await checkpoint.ConfigureAwait(false);
        if (!success)
        {
            throw new StoreException("the index checkpoint could not be taken");
        }
        // FASTER completes a checkpoint whose files failed to write (it only traces the error); the device reports
        // the failure before FASTER sees the write end, so it is known here. Such a checkpoint is never used.
        if (_checkpointFiles.WriteFailure.IsCompleted)
        {
            throw new StoreException("the index checkpoint could not be written", await _checkpointFiles.WriteFailure.ConfigureAwait(false));
        }
        try
        {
            _checkpointFiles.SyncCheckpoint(_checkpointNames, token);
        }
        catch (IOException ex)
        {
            throw new StoreException("the index checkpoint could not be written", ex);
        }
        return token;
    }

    /// <summary>Deletes every checkpoint but <paramref name="keep"/>.</summary>
    public void PurgeCheckpointsExcept(Guid keep)
    {
        foreach (Guid token in _checkpoints.GetLogCheckpointTokens().Concat(_checkpoints.GetIndexCheckpointTokens()).Distinct().ToList())
        {
            if (token != keep)
            {
                _checkpoints.Purge(token);
            }
        }
    }

    public long LogTailAddress => _kv.Log.TailAddress;

    public void Dispose()
    {
        while (_readers.TryTake(out StateSession? session))
        {
            session.Dispose();
        }
        PageStock?.Dispose(); // before the store: it adds to the hybrid log's page pool
        _kv.Dispose();
        _settings.Dispose();
        _checkpoints.Dispose();
        _device.Dispose(); // a device we created is ours to close: FASTER leaves it open
    }
}
