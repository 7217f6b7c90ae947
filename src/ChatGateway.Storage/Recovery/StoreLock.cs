namespace ChatGateway.Storage.Recovery;

/// <summary>
/// Exclusive ownership of a store directory for the life of the open store: a LOCK file opened with
/// FileShare.None, which .NET implements on Linux with an advisory flock. The kernel releases it when the
/// process dies, so a crashed owner never leaves the directory locked.
/// </summary>
internal sealed class StoreLock : IDisposable
{
    private readonly FileStream _file;

    private StoreLock(FileStream file) => _file = file;

    public static StoreLock Acquire(string directory)
    {
        string path = Path.Combine(directory, "LOCK");
        try
        {
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            file.SetLength(0);
            using (var writer = new StreamWriter(file, leaveOpen: true))
            {
                writer.Write(Environment.ProcessId);
            }
            file.Flush();
            return new StoreLock(file);
        }
        catch (IOException ex)
        {
            throw new StoreLockedException($"The store at {directory} is in use by another process (or already open in this one); " +
                                           "only one gateway may open a store directory at a time.", ex);
        }
    }

    public void Dispose() => _file.Dispose();
}
