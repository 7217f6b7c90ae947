using System.Text;
using System.Threading.Channels;
using ChatGateway.Storage;

// Usage: CrashWorker <directory> <conversations> <concurrency> <checkpoint-ms> <seed>
// Opens the store, prints "READY", then appends forever from <concurrency> tasks, printing one line per
// acknowledged write: "ACK <conversation> <seq> <client id>" for new messages, "DUP <conversation> <seq>
// <client id>" for a retried id answered with its original seq. The crash test kills it with SIGKILL.
string directory = args[0];
int conversations = int.Parse(args[1]);
int concurrency = int.Parse(args[2]);
int checkpointMs = int.Parse(args[3]);
int seed = int.Parse(args[4]);

var options = new StoreOptions
{
    Directory = directory,
    CheckpointInterval = TimeSpan.FromMilliseconds(checkpointMs),
    JournalMemoryBytes = 8 << 20,
    IndexMemoryBytes = 32 << 20,
    IndexHashBytes = 1 << 20,
    RetainMessagesFor = TimeSpan.Zero,
};
ChatStore store = await ChatStore.OpenAsync(options);
var output = Channel.CreateUnbounded<string>();
var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) { AutoFlush = false };
Task printer = Task.Run(async () =>
{
    await foreach (string line in output.Reader.ReadAllAsync())
    {
        await stdout.WriteLineAsync(line);
        if (output.Reader.Count == 0)
        {
            await stdout.FlushAsync(); // what the test reads is what was acknowledged: flush before waiting
        }
    }
});
output.Writer.TryWrite("READY");

await Task.WhenAll(Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
{
    var random = new Random(HashCode.Combine(seed, worker));
    var acked = new List<(long Conversation, ClientMessageId Id)>();
    for (long n = 0; ; n++)
    {
        if (acked.Count > 0 && random.Next(10) == 0)
        {
            // A retry of an acknowledged message: must come back as the original, never as a new seq.
            (long conversation, ClientMessageId id) = acked[random.Next(acked.Count)];
            WriteResult retry = await store.AppendMessageAsync(conversation, sender: 1, id, Body(id), requireMembership: false);
            output.Writer.TryWrite($"{(retry.Status == WriteStatus.Duplicate ? "DUP" : "NEW")} {retry.Conversation} {retry.Seq} {id}");
            continue;
        }
        long target = 1 + random.Next(conversations);
        var clientId = new ClientMessageId(((ulong)(uint)seed << 32) | (uint)worker, (ulong)n + 1);
        WriteResult result = await store.AppendMessageAsync(target, sender: 1, clientId, Body(clientId), requireMembership: false);
        output.Writer.TryWrite($"ACK {result.Conversation} {result.Seq} {clientId}");
        acked.Add((target, clientId));
    }
})));
await printer;

static byte[] Body(ClientMessageId id) => Encoding.UTF8.GetBytes($"body of {id} " + new string('x', (int)(id.Low % 97)));
