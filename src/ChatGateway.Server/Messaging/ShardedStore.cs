using System.Text.Json;
using ChatGateway.Storage;
using Microsoft.Extensions.Logging;

namespace ChatGateway.Server.Messaging;

/// <summary>
/// One <see cref="ChatStore"/> per sequencer shard, each in its own folder with its own journal and writer: a
/// conversation, its messages, members, dedupe window and the pending entries it causes all live in shard
/// <c>hash(conversation) % shards</c>. Per-user views (a user's conversations, pending queue) are the union
/// over shards. The shard count is on disk (shards/layout.json): reopening keeps it whatever is configured.
/// </summary>
public sealed class ShardedStore : IAsyncDisposable
{
    private readonly ChatStore[] _shards;

    private ShardedStore(ChatStore[] shards) => _shards = shards;

    public int Count => _shards.Length;

    public ChatStore this[int shard] => _shards[shard];

    public static async Task<ShardedStore> OpenAsync(string dataDirectory, int configuredShards, Func<string, StoreOptions> options,
        ILogger logger, TimeProvider time)
    {
        string root = Path.Combine(Path.GetFullPath(dataDirectory), "shards");
        Directory.CreateDirectory(root);
        string layoutPath = Path.Combine(root, "layout.json");
        int count;
        if (File.Exists(layoutPath))
        {
            count = JsonSerializer.Deserialize<Layout>(File.ReadAllText(layoutPath))?.Shards ?? 0;
            if (count < 1)
            {
                throw new InvalidOperationException($"{layoutPath} is damaged: it must name the shard count");
            }
            if (configuredShards != 0 && configuredShards != count)
            {
                logger.LogWarning("Chat:Shards is {Configured} but the data folder was created with {Count} shards; keeping {Count}",
                    configuredShards, count, count);
            }
        }
        else
        {
            count = configuredShards > 0 ? configuredShards : Environment.ProcessorCount;
            string temporary = layoutPath + ".tmp";
            File.WriteAllText(temporary, JsonSerializer.Serialize(new Layout(count)));
            File.Move(temporary, layoutPath);
        }

        var shards = new ChatStore[count];
        try
        {
            // Shards recover in parallel: recovery time is that of the largest, not the sum.
            await Parallel.ForEachAsync(Enumerable.Range(0, count), async (i, _) =>
                shards[i] = await ChatStore.OpenAsync(options(Path.Combine(root, i.ToString(System.Globalization.CultureInfo.InvariantCulture))), logger, time)
                    .ConfigureAwait(false)).ConfigureAwait(false);
        }
        catch
        {
            foreach (ChatStore? shard in shards)
            {
                if (shard is not null)
                {
                    await shard.DisposeAsync().ConfigureAwait(false);
                }
            }
            throw;
        }
        return new ShardedStore(shards);
    }

    /// <summary>Fibonacci hashing: consecutive ids (groups, users) spread evenly over shards.</summary>
    public int ShardOf(long conversation) => (int)(((ulong)conversation * 0x9E3779B97F4A7C15UL >> 33) % (ulong)_shards.Length);

    public ChatStore StoreOf(long conversation) => _shards[ShardOf(conversation)];

    /// <summary>Presence lives with the user's "home" shard (any fixed choice would do).</summary>
    public ChatStore PresenceStoreOf(long user) => _shards[ShardOf(user)];

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_shards.Select(s => s.DisposeAsync().AsTask())).ConfigureAwait(false);
    }

    private sealed record Layout(int Shards);
}
