using System.Runtime.InteropServices;
using System.Text.Json;

namespace ChatGateway.Storage.Recovery;

/// <summary>
/// What recovery starts from, kept in {directory}/store.json and replaced atomically (write a temporary
/// file, fsync it, rename over the old one, fsync the directory): the index checkpoint to load and the
/// journal address to replay from. Updated only after the checkpoint it names is complete, and old
/// checkpoints are deleted only after that, so a crash at any point leaves a usable pair.
/// </summary>
internal sealed record StoreMetadata
{
    /// <summary>
    /// On-disk format of a new store. 2: index keys hashed uniformly; 3: keys with a counting last part (seqs,
    /// client message ids) hashed near each other (<see cref="State.StateKeyComparer"/>); 4: messages indexed
    /// per block of 64 seqs with their bodies left in the journal (<see cref="State.MessageBlock"/>). A store
    /// keeps the format it was created with: the checkpointed hash index is laid out by it.
    /// </summary>
    public const int CurrentFormat = 4;

    /// <summary>From this format on, message bodies are read from the journal, which is kept for message retention.</summary>
    public const int MessageBlocksFormat = 4;

    /// <summary>Formats this version opens.</summary>
    public const int OldestReadableFormat = 2;

    public int Format { get; init; } = CurrentFormat;
    public Guid? Checkpoint { get; init; }
    public long ReplayFrom { get; init; }
    /// <summary>Starts at 1; increases every time the store opens after a crash (an unclean shutdown).</summary>
    public long Incarnation { get; init; } = 1;
    public bool CleanShutdown { get; init; }

    /// <summary>
    /// Format 4: when the journal reached which address (<see cref="Writing.JournalRetention"/>), so that files
    /// whose messages have all aged out of retention can be removed.
    /// </summary>
    public IReadOnlyList<JournalMark> RetentionMarks { get; init; } = [];

    [System.Text.Json.Serialization.JsonIgnore]
    public bool MessageBlocks => Format >= MessageBlocksFormat;

    private const string FileName = "store.json";

    public static StoreMetadata? Load(string directory)
    {
        string path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            StoreMetadata metadata = JsonSerializer.Deserialize<StoreMetadata>(File.ReadAllBytes(path))
                                     ?? throw new StoreCorruptedException($"{path} is empty");
            if (metadata.Format is < OldestReadableFormat or > CurrentFormat)
            {
                throw new StoreCorruptedException($"{path}: store format {metadata.Format}; this version reads formats {OldestReadableFormat} to {CurrentFormat}");
            }
            return metadata;
        }
        catch (JsonException ex)
        {
            throw new StoreCorruptedException($"{path} is not valid store metadata: {ex.Message}");
        }
    }

    public void Save(string directory)
    {
        string path = Path.Combine(directory, FileName);
        string temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(file, this);
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: true);
        SyncDirectory(directory);
    }

    /// <summary>fsync of the directory, so the rename itself survives a power loss (a no-op off Unix).</summary>
    private static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        int fd = open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            return;
        }
        fsync(fd);
        close(fd);
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open(string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [DllImport("libc")]
    private static extern int close(int fd);
}

/// <summary>Every journal record before <paramref name="Address"/> was written at or before <paramref name="At"/> (Unix ms).</summary>
internal sealed record JournalMark(long At, long Address);
