using ChatGateway.Storage;

namespace ChatGateway.Benchmarks.Storage;

/// <summary>A real store in a temporary folder on the benchmark machine's disk.</summary>
internal static class BenchStore
{
    public static StoreOptions Options(string directory, DurabilityMode durability) => new()
    {
        Directory = directory,
        Durability = durability,
        JournalMemoryBytes = 64L << 20,
        IndexMemoryBytes = 512L << 20,
        IndexHashBytes = 64L << 20,
        RetainMessagesFor = TimeSpan.Zero,
        CheckpointInterval = TimeSpan.FromHours(1),
        CheckpointJournalBytes = long.MaxValue,
    };

    public static string NewDirectory() => Directory.CreateTempSubdirectory("chatgw-bench-").FullName;

    /// <summary>Prints the writer's records per commit (the batch sizes it really saw), then closes the store and deletes its folder.</summary>
    public static void Close(ChatStore store, string directory, string label, long invocations)
    {
        StoreStats stats = store.Stats;
        Console.WriteLine($"// {label}: {invocations} invocations, {stats.Records} records, {stats.Batches} writer batches " +
                          $"({(double)stats.Records / Math.Max(1, stats.Batches):F1} records per commit)");
        store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(directory, recursive: true);
    }
}
