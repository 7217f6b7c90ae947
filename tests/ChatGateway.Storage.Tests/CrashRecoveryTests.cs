using System.Text;
using ChatGateway.Storage.Reading;
using Xunit.Abstractions;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// Acknowledged means durable: a real process appends under load and is killed with SIGKILL at random
/// moments (mid-batch, mid-checkpoint, right after opening); after each kill the store is reopened and every
/// acknowledged message must be there, intact, with gap-free seqs that were never handed out twice. The
/// worker and the verifier use different memory settings, as an operator changing them between runs would.
/// </summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output)
{
    private const int Conversations = 8;

    /// <summary>The body the crash worker writes for a client id.</summary>
    public static byte[] Body(ClientMessageId id) => Encoding.UTF8.GetBytes($"body of {id} " + new string('x', (int)(id.Low % 97)));

    [Fact]
    public async Task Every_acknowledged_message_survives_repeated_kill_9()
    {
        string directory = Directory.CreateTempSubdirectory("chatgw-crash-").FullName;
        try
        {
            int seed = Environment.TickCount;
            output.WriteLine($"seed {seed}");
            var random = new Random(seed);
            var acked = new Dictionary<(long Conversation, long Seq), string>();
            int kills = 0;
            for (int round = 1; round <= 24; round++)
            {
                int checkpointMs = random.Next(10, 400);
                using CrashWorkerProcess worker = CrashWorkerProcess.Start(directory, Conversations, concurrency: 16, checkpointMs, seed: round);
                // Sometimes right after opening; sometimes long enough for the journal to span several pages.
                int target = round % 6 == 0 ? 0 : round % 4 == 0 ? random.Next(6000, 9000) : random.Next(1, 600);
                await worker.WaitForAsync("READY", 1);
                await worker.WaitForAsync("ACK", target);
                IReadOnlyList<string> lines = await worker.KillAsync();
                kills++;
                Record(lines, acked, round);
                await VerifyAsync(directory, acked, round);
            }
            Assert.True(kills >= 20);
            Assert.True(acked.Count > 1000, $"only {acked.Count} acknowledgements over {kills} kills");
            output.WriteLine($"{kills} kills, {acked.Count} acknowledged messages verified");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private static void Record(IReadOnlyList<string> lines, Dictionary<(long, long), string> acked, int round)
    {
        for (int i = 0; i < lines.Count; i++)
        {
            string[] parts = lines[i].Split(' ');
            if (parts[0] is not ("ACK" or "DUP" or "NEW"))
            {
                continue;
            }
            if (parts.Length != 4 || parts[3].Length != 32)
            {
                // SIGKILL can cut the worker's last line in half; only the last line may be cut.
                Assert.True(i == lines.Count - 1, $"round {round}: malformed line {lines[i]}");
                continue;
            }
            (long conversation, long seq, string id) = (long.Parse(parts[1]), long.Parse(parts[2]), parts[3]);
            switch (parts[0])
            {
                case "ACK":
                    if (acked.TryGetValue((conversation, seq), out string? earlier))
                    {
                        Assert.Fail($"round {round}: seq {seq} of conversation {conversation} acknowledged for {id} after {earlier}: a seq was reused");
                    }
                    acked[(conversation, seq)] = id;
                    break;
                case "DUP":
                    Assert.True(acked.TryGetValue((conversation, seq), out string? original) && original == id,
                        $"round {round}: retry of {id} answered with seq {seq}, which is not its original");
                    break;
                default:
                    Assert.Fail($"round {round}: retry of acknowledged {id} created a new message (seq {seq})");
                    break;
            }
        }
    }

    private static async Task VerifyAsync(string directory, Dictionary<(long Conversation, long Seq), string> acked, int round)
    {
        StoreOptions options = TempStore.SmallOptions(directory);
        options.RetainMessagesFor = TimeSpan.Zero;
        await using ChatStore store = await ChatStore.OpenAsync(options);
        Assert.True(store.Recovery.AfterCrash, $"round {round}: the store should know it crashed");
        Assert.True(store.Recovery.DamagedAt is null, $"round {round}: a crash is not damage, yet recovery reported {store.Recovery}");

        var page = new MessagePage();
        for (long conversation = 1; conversation <= Conversations; conversation++)
        {
            long head = store.GetConversation(conversation).Head;
            long maxAcked = acked.Keys.Where(k => k.Conversation == conversation).Select(k => k.Seq).DefaultIfEmpty(0).Max();
            Assert.True(head >= maxAcked, $"round {round}: conversation {conversation} recovered to {head} but {maxAcked} was acknowledged");

            store.ReadRange(conversation, 1, int.MaxValue, page);
            Assert.Equal(Enumerable.Range(1, (int)head).Select(s => (long)s), page.Messages.Select(m => m.Seq)); // gap-free
            foreach (StoredMessage message in page.Messages)
            {
                Assert.Equal(Body(message.ClientId), message.Body.ToArray()); // intact
                if (acked.TryGetValue((conversation, message.Seq), out string? id))
                {
                    Assert.Equal(id, message.ClientId.ToString());
                }
            }
        }

        // Dedupe survives the crash: a retry of an acknowledged id returns its seq and writes nothing.
        foreach (((long conversation, long seq), string id) in acked.Take(50).ToList())
        {
            var clientId = new ClientMessageId(Convert.ToUInt64(id[..16], 16), Convert.ToUInt64(id[16..], 16));
            WriteResult retry = await store.AppendMessageAsync(conversation, 1, clientId, Body(clientId), requireMembership: false);
            Assert.Equal((WriteStatus.Duplicate, seq), (retry.Status, retry.Seq));
        }
    }
}
