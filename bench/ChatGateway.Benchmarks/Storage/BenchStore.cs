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
}
