using System.Diagnostics;
using ChatGateway.Storage;

namespace ChatGateway.Benchmarks.Storage;

/// <summary>
/// `./run.sh bench recovery [messages]`: how long opening a store takes after a crash, with and without a
/// recent checkpoint. A child process (this program, "recovery-writer") appends the messages with no
/// checkpoint, waits for the journal commit and is killed with SIGKILL; the parent then opens the store
/// (checkpoint: none, so every record is replayed), closes it cleanly (which checkpoints), and opens it again
/// (nothing to replay). One-shot wall-clock figures, not a BenchmarkDotNet loop: recovery happens once.
/// </summary>
internal static class RecoveryMeasurement
{
    public static async Task<int> RunAsync(string[] args)
    {
        int messages = args.Length > 1 ? int.Parse(args[1]) : 1_000_000;
        string directory = BenchStore.NewDirectory();
        try
        {
            Console.WriteLine($"Writing {messages:N0} messages (100-byte bodies, 1,000 conversations) in a child process, then SIGKILL...");
            var start = new ProcessStartInfo("dotnet", [typeof(RecoveryMeasurement).Assembly.Location, "recovery-writer", directory, $"{messages}"])
            {
                RedirectStandardOutput = true,
            };
            using (Process writer = Process.Start(start)!)
            {
                string? line;
                while ((line = await writer.StandardOutput.ReadLineAsync()) is not null && line != "COMMITTED")
                {
                }
                writer.Kill();
                await writer.WaitForExitAsync();
                if (line != "COMMITTED")
                {
                    throw new InvalidOperationException("the writer died before committing");
                }
            }

            StoreOptions options = BenchStore.Options(directory, DurabilityMode.Commit);
            var timer = Stopwatch.StartNew();
            ChatStore store = await ChatStore.OpenAsync(options);
            TimeSpan withoutCheckpoint = timer.Elapsed;
            long replayed = store.Recovery.Replayed;
            long heads = Enumerable.Range(1, 1000).Sum(c => store.GetConversation(c).Head);
            await store.DisposeAsync(); // clean shutdown: checkpoint

            timer.Restart();
            store = await ChatStore.OpenAsync(options);
            TimeSpan withCheckpoint = timer.Elapsed;
            long replayedAfterCheckpoint = store.Recovery.Replayed;
            await store.DisposeAsync();

            Console.WriteLine();
            Console.WriteLine("| store | journal records replayed | open time |");
            Console.WriteLine("|---|---:|---:|");
            Console.WriteLine($"| {messages:N0} messages, crash, no checkpoint | {replayed:N0} | {withoutCheckpoint.TotalSeconds:F2} s |");
            Console.WriteLine($"| {messages:N0} messages, recent checkpoint | {replayedAfterCheckpoint:N0} | {withCheckpoint.TotalSeconds:F2} s |");
            Console.WriteLine($"(messages found after recovery: {heads:N0})");
            return heads == messages ? 0 : 1;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The child: appends in Relaxed mode (the fastest way to fill a journal), then lets a commit happen.</summary>
    public static async Task<int> WriteAsync(string[] args)
    {
        string directory = args[1];
        int messages = int.Parse(args[2]);
        StoreOptions options = BenchStore.Options(directory, DurabilityMode.Relaxed);
        ChatStore store = await ChatStore.OpenAsync(options);
        byte[] body = new byte[100];
        var pending = new List<Task<WriteResult>>(4096);
        for (int i = 0; i < messages; i++)
        {
            pending.Add(store.AppendMessageAsync(i % 1000 + 1, 1, new ClientMessageId(2, (ulong)i + 1), body, requireMembership: false).AsTask());
            if (pending.Count == 4096)
            {
                await Task.WhenAll(pending);
                pending.Clear();
            }
        }
        await Task.WhenAll(pending);
        await Task.Delay(options.RelaxedCommitInterval * 10); // several relaxed commits have happened
        Console.WriteLine("COMMITTED");
        await Task.Delay(Timeout.Infinite); // killed here, without the shutdown checkpoint
        return 0;
    }
}
