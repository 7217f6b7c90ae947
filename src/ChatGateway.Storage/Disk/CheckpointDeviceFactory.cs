using FASTER.core;

namespace ChatGateway.Storage.Disk;

/// <summary>
/// The devices FASTER writes the index's checkpoints through (the hash table, its metadata): on Linux a
/// <see cref="SegmentDevice"/> without zero fill and without per-write sync, so each write goes straight to disk
/// (O_DIRECT) and a failed write is seen (<see cref="WriteFailure"/>); the store syncs the files once FASTER
/// reports the checkpoint complete (<see cref="SyncCheckpoint"/>). Elsewhere FASTER's own devices. Listing and deleting checkpoints
/// stay FASTER's: the files are named the same (<c>{name}.0</c>).
/// <para>
/// Why: FASTER's device writes through the page cache, and a full index checkpoint writes the whole hash table
/// (32 MiB by default, plus its overflow buckets) every few seconds under load: the kernel's copy was 5.6% of the
/// server's CPU in the pairs benchmark (docs/benchmarks.md). And FASTER only traces a failed checkpoint-metadata
/// write: the store would point at a checkpoint that is not on disk.
/// </para>
/// </summary>
internal sealed class CheckpointDeviceFactory : INamedDeviceFactory
{
    private readonly LocalStorageNamedDeviceFactory _files = new();
    private readonly TaskCompletionSource<IOException> _writeFailure = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string _baseName = "";

    /// <summary>Completes with the first failed write of any checkpoint file (never, on FASTER's own devices).</summary>
    public Task<IOException> WriteFailure => _writeFailure.Task;

    /// <summary>Tests only: when not 0, devices created from now on fail every write with this errno.</summary>
    internal volatile int InjectedWriteError;

    public void Initialize(string baseName)
    {
        _baseName = baseName;
        _files.Initialize(baseName);
    }

    public IDevice Get(FileDescriptor fileInfo)
    {
        if (!DirectFile.IsSupported)
        {
            return _files.Get(fileInfo);
        }
        // Synchronously, before FASTER sees the failed write end: StateStore checks WriteFailure as soon as FASTER reports
        // the checkpoint complete. A continuation of the device's WriteFailure ran on the thread pool and sometimes
        // came after that check, so a checkpoint with an unwritten file was taken as good (a flaky test found it).
        return new SegmentDevice(Path.Combine(_baseName, fileInfo.directoryName, fileInfo.fileName), fillAhead: false, syncEachWrite: false)
        {
            InjectedWriteError = InjectedWriteError,
            WriteFailed = failure => _writeFailure.TrySetResult(failure),
        };
    }

    /// <summary>
    /// Makes a complete checkpoint durable before anything points at it: every file and the folder of each of its
    /// parts (the hash index and the log's metadata, where <paramref name="naming"/> puts them), then the folders
    /// that hold them.
    /// </summary>
    public void SyncCheckpoint(ICheckpointNamingScheme naming, Guid token)
    {
        if (!DirectFile.IsSupported)
        {
            return; // FASTER's own devices write with O_SYNC
        }
        (FileDescriptor Metadata, string Parent)[] parts =
        [
            (naming.IndexCheckpointMetadata(token), naming.IndexCheckpointBasePath()),
            (naming.LogCheckpointMetadata(token), naming.LogCheckpointBasePath()),
        ];
        foreach ((FileDescriptor metadata, string parent) in parts)
        {
            string folder = Path.Combine(_baseName, metadata.directoryName);
            if (!Directory.Exists(folder))
            {
                continue;
            }
            foreach (string file in Directory.EnumerateFiles(folder))
            {
                DirectFile.SyncFile(file);
            }
            DirectFile.SyncFile(folder);
            DirectFile.SyncFile(Path.Combine(_baseName, parent));
        }
    }

    public IEnumerable<FileDescriptor> ListContents(string path) => _files.ListContents(path);

    public void Delete(FileDescriptor fileInfo) => _files.Delete(fileInfo);
}
