using Microsoft.Extensions.Time.Testing;

namespace ChatGateway.Storage.Tests;

/// <summary>A real store in a fresh temporary folder, deleted afterwards.</summary>
public sealed class TempStore : IAsyncDisposable
{
    public TempStore(Action<StoreOptions>? configure = null)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("chatgw-store-").FullName;
        Options = SmallOptions(Directory);
        configure?.Invoke(Options);
    }

    public string Directory { get; }
    public StoreOptions Options { get; }
    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero));
    public ChatStore? Store { get; private set; }

    /// <summary>Options sized for tests: small memory, so many stores can be open at once.</summary>
    public static StoreOptions SmallOptions(string directory) => new()
    {
        Directory = directory,
        JournalMemoryBytes = 4 << 20,
        IndexMemoryBytes = 16 << 20,
        IndexHashBytes = 1 << 20,
    };

    public async Task<ChatStore> OpenAsync(bool fakeTime = true)
    {
        Store = await ChatStore.OpenAsync(Options, time: fakeTime ? Time : TimeProvider.System);
        return Store;
    }

    public async Task<ChatStore> ReopenAsync()
    {
        if (Store is not null)
        {
            await Store.DisposeAsync();
        }
        return await OpenAsync();
    }

    /// <summary>
    /// Copies the open store's files to a new folder, as a kill -9 now would leave them. Call it while no write is in
    /// flight; the caller deletes the copy.
    /// </summary>
    public string CopyFilesAsCrashed() => CopyFiles(Directory);

    /// <summary>
    /// Copies a store's files to a new folder, but for the lock file, which a dead process no longer holds (and an
    /// open store still does); the caller deletes the copy.
    /// </summary>
    public static string CopyFiles(string directory)
    {
        string copy = System.IO.Directory.CreateTempSubdirectory("chatgw-image-").FullName;
        foreach (string path in System.IO.Directory.GetFiles(directory, "*", SearchOption.AllDirectories))
        {
            if (Path.GetFileName(path) == "LOCK")
            {
                continue;
            }
            string target = Path.Combine(copy, Path.GetRelativePath(directory, path));
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(path, target);
        }
        return copy;
    }

    public async ValueTask DisposeAsync()
    {
        if (Store is not null)
        {
            // Bounded: a store whose writer hangs fails its test here rather than stalling the whole run.
            await Store.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        }
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
