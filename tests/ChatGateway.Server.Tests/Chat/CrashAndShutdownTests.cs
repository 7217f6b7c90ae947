using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using ChatGateway.Protocol;
using ChatGateway.Server.Auth;
using ChatGateway.Server.Tests.Hosting;

namespace ChatGateway.Server.Tests.Chat;

/// <summary>The gateway as a real process: killed with SIGKILL under load, stopped with SIGTERM.</summary>
public sealed class CrashAndShutdownTests : IDisposable
{
    private const long Reader = 5099;
    private static readonly long[] Senders = [5001, 5002, 5003, 5004];

    private readonly string _data = Directory.CreateTempSubdirectory("chatgw-crash-").FullName;
    private readonly TokenService _tokens;

    public CrashAndShutdownTests() =>
        _tokens = new TokenService(JwtSecret.Resolve(ChatTestServer.Secret, _data), new AuthOptions(), TimeProvider.System);

    public void Dispose() => Directory.Delete(_data, recursive: true);

    // Senders send as fast as acks come back: this test is about crashes under load, so the per-connection rate
    // limit (100/s by default) is lifted out of its way (with cheaper group commits, as measured on branch
    // journal-device-wip, the senders passed it and got rate_limited instead of acks).
    private Task<ServerProcess> StartAsync() => ServerProcess.StartAsync(ChatTestServer.Arguments(_data,
        "--Chat:RateMessagesPerSecond", "1000000", "--Chat:RateMessagesBurst", "1000000"));

    private Task<RawChatClient> ConnectAsync(ServerProcess server, long user) =>
        RawChatClient.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/ws"), _tokens.Issue(user, TimeSpan.FromHours(1)));

    private sealed record Acked(long Sender, long Conversation, long Seq, string Body, Guid Id);

    [Fact]
    public async Task Every_acked_message_survives_kill_9_under_load_with_seqs_continuing_and_never_reused()
    {
        var acked = new ConcurrentBag<Acked>();
        long group;
        await using (ServerProcess first = await StartAsync())
        {
            await using RawChatClient creator = await ConnectAsync(first, Reader);
            uint rid = await creator.SendAsync((o, r) => ClientRequestWriter.CreateGroup(o, r, Senders));
            group = Assert.IsType<OkMessage>(await creator.ReplyAsync(rid)).Value;
        }

        var heads = new Dictionary<long, long>();
        for (int round = 0; round < 3; round++)
        {
            ServerProcess server = await StartAsync();
            await using (server)
            {
                // Seqs continue where the last crash left them: nothing acked before is handed out again.
                await VerifyAsync(server, acked, heads);

                using var stop = new CancellationTokenSource();
                Task[] load = Senders.Select(sender => Task.Run(() => SendUntilKilledAsync(server, sender, group, round, acked, stop.Token))).ToArray();
                // Kill once each sender has had some acks (at a random point after that), mid-load.
                await WaitForAsync(() => acked.Count >= (round + 1) * 40);
                await Task.Delay(Random.Shared.Next(0, 300));
                await server.KillHardAsync();
                await Task.WhenAll(load);
            }
        }
        await using ServerProcess last = await StartAsync();
        await VerifyAsync(last, acked, heads);

        // Dedupe outlives the crashes: retries of acked messages (from before the first crash and the last) get their original seqs.
        await using RawChatClient sender = await ConnectAsync(last, Senders[0]);
        Acked[] mine = [.. acked.Where(a => a.Sender == Senders[0]).OrderBy(a => a.Body)];
        foreach (Acked retried in new[] { mine[0], mine[^1] })
        {
            AckMessage again = await sender.SendMessageAsync(retried.Conversation, retried.Body, retried.Id);
            Assert.Equal((true, retried.Conversation, retried.Seq), (again.Duplicate, again.Conversation, again.Seq));
        }
    }

    private async Task SendUntilKilledAsync(ServerProcess server, long sender, long group, int round, ConcurrentBag<Acked> acked, CancellationToken stop)
    {
        try
        {
            await using RawChatClient client = await ConnectAsync(server, sender);
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                long conversation = i % 2 == 0 ? group : 0;
                string body = $"{sender}-{round}-{i}";
                Guid id = Guid.NewGuid();
                AckMessage ack = await client.SendMessageAsync(conversation, body, id, toUser: conversation == 0 ? Reader : 0);
                acked.Add(new Acked(sender, ack.Conversation, ack.Seq, body, id));
            }
        }
        catch (Exception ex) when (ex is WebSocketException or WebSocketClosedException or OperationCanceledException or IOException)
        {
            // the server died under us: whatever was not acked may or may not be stored
        }
    }

    /// <summary>Syncs every conversation from the start and checks it against what was acked.</summary>
    private async Task VerifyAsync(ServerProcess server, ConcurrentBag<Acked> acked, Dictionary<long, long> heads)
    {
        await using RawChatClient reader = await ConnectAsync(server, Reader);
        foreach (IGrouping<long, Acked> conversation in acked.GroupBy(a => a.Conversation))
        {
            var stored = new List<ChatMessage>();
            long head;
            while (true)
            {
                uint rid = await reader.SendAsync((o, r) => ClientRequestWriter.Sync(o, r, conversation.Key, stored.Count, 200));
                var page = Assert.IsType<SyncResultMessage>(await reader.ReplyAsync(rid));
                stored.AddRange(page.Messages);
                head = page.Head;
                if (!page.HasMore)
                {
                    break;
                }
            }
            Assert.Equal(Enumerable.Range(1, stored.Count).Select(i => (long)i), stored.Select(m => m.Seq)); // gap-free
            Assert.Equal(head, stored.Count);
            foreach (Acked message in conversation)
            {
                Assert.True(message.Seq <= head, $"acked seq {message.Seq} of {conversation.Key} lost (head {head})");
                Assert.Equal(message.Body, Encoding.UTF8.GetString(stored[(int)message.Seq - 1].Body));
            }
            Assert.True(head >= heads.GetValueOrDefault(conversation.Key), "the head went backwards");
            heads[conversation.Key] = head;
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token); // polls a counter the load tasks raise; no event to await across them
        }
    }

    [Fact]
    public async Task SIGTERM_closes_sessions_with_1001_commits_what_was_accepted_and_checkpoints()
    {
        ServerProcess server = await StartAsync();
        AckMessage ack;
        await using (server)
        {
            await using RawChatClient a = await ConnectAsync(server, Senders[0]);
            ack = await a.SendMessageAsync(0, "before shutdown", toUser: Reader);

            await server.TerminateAsync();

            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await a.WaitClosedAsync()); // 1001
            Assert.Equal(0, server.ExitCode);
            Assert.Contains("every accepted request committed", server.Log);
        }

        await using ServerProcess again = await StartAsync();
        Assert.Contains("after a clean shutdown", again.Log);
        Assert.DoesNotContain("after a crash", again.Log);
        await using RawChatClient reader = await ConnectAsync(again, Reader);
        uint rid = await reader.SendAsync((o, r) => ClientRequestWriter.Sync(o, r, ack.Conversation, 0, 10));
        Assert.Equal("before shutdown", Encoding.UTF8.GetString(Assert.Single(Assert.IsType<SyncResultMessage>(await reader.ReplyAsync(rid)).Messages).Body));
    }
}
