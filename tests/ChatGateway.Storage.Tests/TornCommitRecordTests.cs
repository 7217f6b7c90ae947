using System.Formats.Tar;
using System.IO.Compression;
using ChatGateway.Storage.Reading;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// A store captured right after the kill -9 that lost acknowledged messages (CrashRecoveryTests, round 3 of a
/// looped run): its journal ends with bytes a killed page write left torn past the newest commit. FASTER 2.6.5's
/// own recovery scanned into them, took the torn bytes for a commit record and opened the journal empty, so
/// every message after the index checkpoint was gone. Fixtures/torn-commit-record.tar.gz holds the store as the
/// kill left it and heads.txt, the highest acknowledged seq of each conversation.
/// </summary>
public sealed class TornCommitRecordTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("chatgw-torn-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_torn_page_past_the_last_commit_loses_no_acknowledged_message()
    {
        await ExtractAsync();
        await AssertEveryAcknowledgedMessageAsync();
    }

    [Fact]
    public async Task An_unreadable_newest_commit_file_falls_back_to_the_one_before()
    {
        await ExtractAsync();
        // The metadata of commit 67 also serves as an older commit 66; the newest file is then cut to nothing, as a
        // crash right after creating it would leave it (its commit was never acknowledged).
        string commits = Path.Combine(_directory, "journal", "log-commits");
        File.Copy(Path.Combine(commits, "commit.67.0"), Path.Combine(commits, "commit.66.0"));
        File.WriteAllBytes(Path.Combine(commits, "commit.68.0"), new byte[512]);
        await AssertEveryAcknowledgedMessageAsync();
    }

    private async Task ExtractAsync()
    {
        await using var archive = new GZipStream(File.OpenRead(Path.Combine(AppContext.BaseDirectory, "Fixtures", "torn-commit-record.tar.gz")), CompressionMode.Decompress);
        await TarFile.ExtractToDirectoryAsync(archive, _directory, overwriteFiles: false);
    }

    private async Task AssertEveryAcknowledgedMessageAsync()
    {
        Dictionary<long, long> acknowledged = File.ReadAllLines(Path.Combine(_directory, "heads.txt"))
            .Select(line => line.Split(' ')).ToDictionary(parts => long.Parse(parts[0]), parts => long.Parse(parts[1]));

        StoreOptions options = TempStore.SmallOptions(_directory);
        options.RetainMessagesFor = TimeSpan.Zero;
        await using ChatStore store = await ChatStore.OpenAsync(options);

        Assert.True(store.Recovery.AfterCrash);
        Assert.Null(store.Recovery.DamagedAt);
        Assert.True(store.Recovery.Replayed > 0, "the journal after the checkpoint is replayed, not found empty");
        var page = new MessagePage();
        foreach ((long conversation, long seq) in acknowledged)
        {
            long head = store.GetConversation(conversation).Head;
            Assert.True(head >= seq, $"conversation {conversation} recovered to {head} but {seq} was acknowledged");
            store.ReadRange(conversation, 1, int.MaxValue, page);
            Assert.Equal(Enumerable.Range(1, (int)head).Select(s => (long)s), page.Messages.Select(m => m.Seq));
        }
    }
}
