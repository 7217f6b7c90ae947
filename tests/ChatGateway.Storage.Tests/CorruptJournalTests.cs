using ChatGateway.Storage.Reading;
using Xunit.Abstractions;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// A journal whose last bytes are cut off or overwritten still opens, with every message before the damage,
/// and keeps working: new messages continue the seqs, and the damage is behind the replay point for good.
/// </summary>
public sealed class CorruptJournalTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("truncate")]
    [InlineData("scribble")]
    [InlineData("scribble-record")]
    public async Task A_damaged_journal_tail_recovers_everything_before_the_damage(string damage)
    {
        string directory = Directory.CreateTempSubdirectory("chatgw-corrupt-").FullName;
        try
        {
            var acked = new Dictionary<(long, long), string>();
            using (CrashWorkerProcess worker = CrashWorkerProcess.Start(directory, conversations: 4, concurrency: 1, checkpointMs: 3_600_000, seed: 7))
            {
                await worker.WaitForAsync("ACK", 500);
                foreach (string line in await worker.KillAsync())
                {
                    string[] parts = line.Split(' ');
                    if (parts[0] == "ACK" && parts.Length == 4 && parts[3].Length == 32) // the last line may be cut by the kill
                    {
                        acked[(long.Parse(parts[1]), long.Parse(parts[2]))] = parts[3];
                    }
                }
            }

            // How many messages the undamaged journal holds: ACK lines still queued in the worker when it was killed
            // are lost to us (hundreds when commits are fast), so the bounds below come from a recovered copy.
            long total = await CommittedMessagesOfCopyAsync(directory);
            Assert.True(total >= acked.Count, $"the journal holds {total} messages but {acked.Count} were acknowledged");

            (string file, long end) = LastJournalBytes(directory);
            output.WriteLine($"damaging {file} ({damage}) before byte {end}");
            if (damage == "truncate")
            {
                using var stream = new FileStream(file, FileMode.Open);
                stream.SetLength(end - 150);
            }
            else
            {
                // "scribble" hits the last bytes (the last commit); "scribble-record" records well inside the committed part.
                using var stream = new FileStream(file, FileMode.Open);
                stream.Position = damage == "scribble" ? end - 150 : end * 4 / 5;
                stream.Write(Enumerable.Repeat((byte)0xA5, damage == "scribble" ? 100 : 16).ToArray());
            }

            StoreOptions options = TempStore.SmallOptions(directory);
            options.RetainMessagesFor = TimeSpan.Zero;
            long recovered = 0;
            await using (ChatStore store = await ChatStore.OpenAsync(options))
            {
                output.WriteLine($"recovery: {store.Recovery}");
                // Detected (by FASTER's checksums, when it looks for the last valid commit, or by the replay) and reported.
                Assert.True(store.Recovery.BytesPastCommit > 0 || store.Recovery.DamagedAt is not null);
                if (damage == "scribble-record")
                {
                    Assert.True(store.Recovery.BytesPastCommit + store.Recovery.DiscardedBytes > 10_000, "the fifth of the journal after the damage is reported");
                }
                var page = new MessagePage();
                for (long conversation = 1; conversation <= 4; conversation++)
                {
                    long head = store.GetConversation(conversation).Head;
                    store.ReadRange(conversation, 1, int.MaxValue, page);
                    Assert.Equal(Enumerable.Range(1, (int)head).Select(s => (long)s), page.Messages.Select(m => m.Seq));
                    foreach (StoredMessage message in page.Messages)
                    {
                        Assert.Equal(CrashRecoveryTests.Body(message.ClientId), message.Body.ToArray()); // no damaged byte replays as data
                        // Durable messages whose ACK line died in the worker's output buffer are recovered too.
                        if (acked.TryGetValue((conversation, message.Seq), out string? id))
                        {
                            Assert.Equal(id, message.ClientId.ToString());
                        }
                    }
                    recovered += head;
                    // New writes continue right after what was recovered.
                    Assert.Equal(head + 1, (await store.AppendMessageAsync(conversation, 1, default, "after repair"u8, requireMembership: false)).Seq);
                }
            }
            if (damage == "scribble-record")
            {
                // Everything before 80% of the journal is back; nothing after the damage is.
                Assert.InRange(recovered, total * 7 / 10, total * 9 / 10);
            }
            else
            {
                // One writer, one message per commit: damage to the last bytes can only take the last few records.
                Assert.InRange(recovered, total - 8, total);
            }

            await using (ChatStore again = await ChatStore.OpenAsync(options))
            {
                Assert.Null(again.Recovery.DamagedAt); // the damaged bytes are behind the replay point now
                Assert.Equal(0, again.Recovery.Replayed);
                Assert.Equal(recovered + 4, Enumerable.Range(1, 4).Sum(c => again.GetConversation(c).Head));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Recovers a copy of the store and counts its messages (seqs are gap-free: the heads' sum).</summary>
    private static async Task<long> CommittedMessagesOfCopyAsync(string directory)
    {
        string copy = TempStore.CopyFiles(directory);
        try
        {
            StoreOptions options = TempStore.SmallOptions(copy);
            options.RetainMessagesFor = TimeSpan.Zero;
            await using ChatStore store = await ChatStore.OpenAsync(options);
            return Enumerable.Range(1, 4).Sum(c => store.GetConversation(c).Head);
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    /// <summary>The journal segment written last, and the offset just past its last non-zero byte.</summary>
    private static (string File, long End) LastJournalBytes(string directory)
    {
        string file = Directory.GetFiles(Path.Combine(directory, "journal"))
            .Where(f => char.IsDigit(f[^1]))
            .OrderBy(f => int.Parse(f[(f.LastIndexOf('.') + 1)..]))
            .Last(f => new FileInfo(f).Length > 0);
        byte[] bytes = File.ReadAllBytes(file);
        int end = Array.FindLastIndex(bytes, b => b != 0) + 1;
        return (file, end);
    }
}
