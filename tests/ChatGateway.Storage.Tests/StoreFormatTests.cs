using System.Text.Json;
using ChatGateway.Storage.Reading;
using ChatGateway.Storage.Recovery;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// The index's key hash and its message records are part of the on-disk format: a store made by an earlier version
/// (format 2: uniform hash; 3: positional hash, both with a record per message) must open with the hash and the
/// message layout it was written with, keep that format, and find everything; a new store gets the current one.
/// </summary>
public sealed class StoreFormatTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task An_older_store_reopens_with_its_own_hash_and_message_records_and_keeps_its_format(int format)
    {
        await using var temp = new TempStore(o => o.NewStoreFormat = format);
        ChatStore store = await temp.OpenAsync();
        Assert.Equal(WriteStatus.Ok, (await store.CreateConversationAsync(500, 1, [2, 3])).Status);
        var sent = new List<WriteResult>();
        for (int i = 0; i < 300; i++)
        {
            sent.Add(await store.AppendMessageAsync(500, 1 + i % 3, new ClientMessageId(9, (ulong)i + 1), BitConverter.GetBytes(i)));
        }
        // FASTER's recovery re-inserts the records written during the last index checkpoint with whatever hash it
        // is given; the records before it are found only through the checkpointed buckets, laid out by that format.
        await store.CheckpointAsync();
        await store.AppendMessageAsync(600, 1, default, "after"u8, requireMembership: false);
        await store.DisposeAsync(); // a clean shutdown: another checkpoint
        Assert.Equal(format, FormatOnDisk(temp.Directory));

        temp.Options.NewStoreFormat = StoreMetadata.CurrentFormat; // this version's defaults
        store = await temp.OpenAsync();

        Assert.True(store.IsMember(500, 3));
        var page = new MessagePage();
        store.ReadRange(500, 1, 1000, page);
        Assert.Equal(Enumerable.Range(1, 300).Select(s => (long)s), page.Messages.Select(m => m.Seq));
        Assert.Equal(Enumerable.Range(0, 300), page.Messages.Select(m => BitConverter.ToInt32(m.Body.Span)));
        WriteResult retry = await store.AppendMessageAsync(500, 1 + 150 % 3, new ClientMessageId(9, 151), BitConverter.GetBytes(150));
        Assert.Equal((WriteStatus.Duplicate, sent[150].Seq), (retry.Status, retry.Seq));
        Assert.Equal(301, (await store.AppendMessageAsync(500, 2, new ClientMessageId(9, 1000), "next"u8)).Seq);

        await store.DisposeAsync();
        Assert.Equal(format, FormatOnDisk(temp.Directory));
    }

    [Fact]
    public async Task A_new_store_is_created_in_the_current_format()
    {
        await using var temp = new TempStore();
        ChatStore store = await temp.OpenAsync();
        await store.AppendMessageAsync(1, 1, new ClientMessageId(1, 1), "a"u8, requireMembership: false);
        await store.DisposeAsync();

        Assert.Equal(StoreMetadata.CurrentFormat, FormatOnDisk(temp.Directory));
        Assert.Equal(4, StoreMetadata.CurrentFormat);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public async Task A_store_of_a_format_this_version_does_not_read_is_refused(int format)
    {
        await using var temp = new TempStore();
        await (await temp.OpenAsync()).DisposeAsync();
        string path = Path.Combine(temp.Directory, "store.json");
        var metadata = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllBytes(path))!;
        metadata["Format"] = JsonSerializer.SerializeToElement(format);
        File.WriteAllBytes(path, JsonSerializer.SerializeToUtf8Bytes(metadata));

        var error = await Assert.ThrowsAsync<StoreCorruptedException>(() => ChatStore.OpenAsync(temp.Options));
        Assert.Contains($"store format {format}", error.Message);
    }

    private static int FormatOnDisk(string directory) =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(directory, "store.json"))).RootElement.GetProperty("Format").GetInt32();
}
