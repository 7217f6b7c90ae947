using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using ChatGateway.LoadTest.Client;
using ChatGateway.Protocol;

namespace ChatGateway.LoadTest.Scenarios;

/// <summary>
/// `presence`: USERS users each subscribe to SUBSCRIPTIONS others; the server restarts (SIGTERM: sessions closed,
/// presence persisted) and every user reconnects at once and subscribes again. Reports the presence frames and
/// bytes sent after the restart and the time until every subscriber holds each of its users as online.
/// </summary>
public static class PresenceReconnect
{
    public static async Task<Dictionary<string, object>> RunAsync(int users, int subscriptions, string secret)
    {
        await using ServerUnderTest server = await ServerUnderTest.StartAsync(secret, ["--Presence:Visibility", "Everyone"]);
        await using WorkerProcess worker = WorkerProcess.Start("worker-presence", server.Port.ToString(CultureInfo.InvariantCulture), secret,
            users.ToString(CultureInfo.InvariantCulture), subscriptions.ToString(CultureInfo.InvariantCulture));
        await worker.WaitForAsync("READY", TimeSpan.FromMinutes(5));
        await server.RestartAsync();
        worker.Send($"RECONNECT {server.Port}");
        string line = await worker.WaitForAsync("SETTLED", TimeSpan.FromMinutes(5));
        Dictionary<string, string> f = line.Split(' ').Skip(1).Select(x => x.Split('=')).ToDictionary(x => x[0], x => x[1]);
        Console.WriteLine($"presence: {users:N0} users × {subscriptions} subscriptions reconnect after a restart: every subscriber holds the final state " +
                          $"{f["ms"]} ms after the reconnect began; subscribe answers {long.Parse(f["resultFrames"], CultureInfo.InvariantCulture):N0} frames / " +
                          $"{long.Parse(f["resultBytes"], CultureInfo.InvariantCulture):N0} bytes, change events {long.Parse(f["eventFrames"], CultureInfo.InvariantCulture):N0} frames / " +
                          $"{long.Parse(f["eventBytes"], CultureInfo.InvariantCulture):N0} bytes");
        return new Dictionary<string, object>
        {
            ["scenario"] = "presence-reconnect",
            ["server"] = "ChatGateway",
            ["users"] = users,
            ["subscriptionsEach"] = subscriptions,
            ["settledMs"] = double.Parse(f["ms"], CultureInfo.InvariantCulture),
            ["resultFrames"] = long.Parse(f["resultFrames"], CultureInfo.InvariantCulture),
            ["resultBytes"] = long.Parse(f["resultBytes"], CultureInfo.InvariantCulture),
            ["eventFrames"] = long.Parse(f["eventFrames"], CultureInfo.InvariantCulture),
            ["eventBytes"] = long.Parse(f["eventBytes"], CultureInfo.InvariantCulture),
        };
    }

    /// <summary>worker-presence PORT SECRET USERS SUBSCRIPTIONS (see <see cref="RunAsync"/>).</summary>
    public static async Task<int> WorkerAsync(string[] args)
    {
        var tokens = new Tokens(args[2]);
        int users = int.Parse(args[3], CultureInfo.InvariantCulture);
        int subscriptions = int.Parse(args[4], CultureInfo.InvariantCulture);
        var random = new Random(7);
        long[][] targets = new long[users][];
        for (int i = 0; i < users; i++)
        {
            var chosen = new HashSet<long>();
            while (chosen.Count < subscriptions)
            {
                int other = random.Next(users);
                if (other != i)
                {
                    chosen.Add(1 + other);
                }
            }
            targets[i] = [.. chosen];
        }
        string[] userTokens = [.. Enumerable.Range(0, users).Select(i => tokens.For(1 + i))];

        var first = new Round(users, targets);
        await first.ConnectAsync(new IPEndPoint(IPAddress.Loopback, int.Parse(args[1], CultureInfo.InvariantCulture)), userTokens, PresenceStatus.Offline);
        await first.Subscribed.Task;
        Console.WriteLine("READY");

        string? command = await Console.In.ReadLineAsync(); // RECONNECT <port>: the server restarted
        first.Dispose();
        var second = new Round(users, targets);
        var clock = Stopwatch.StartNew();
        await second.ConnectAsync(new IPEndPoint(IPAddress.Loopback, int.Parse(command!.Split(' ')[1], CultureInfo.InvariantCulture)), userTokens, PresenceStatus.Online);
        await second.Settled.Task.WaitAsync(TimeSpan.FromMinutes(4));
        double ms = clock.Elapsed.TotalMilliseconds;
        Console.WriteLine(FormattableString.Invariant(
            $"SETTLED ms={ms:F0} resultFrames={second.ResultFrames} resultBytes={second.ResultBytes} eventFrames={second.EventFrames} eventBytes={second.EventBytes}"));
        await Console.In.ReadLineAsync();
        second.Dispose();
        return 0;
    }

    /// <summary>One generation of connections: each subscribes and tracks its view until every target is online.</summary>
    private sealed class Round(int users, long[][] targets) : IDisposable
    {
        private readonly LoadConnection[] _connections = new LoadConnection[users];
        private int _subscribed;
        private int _settled;
        public long ResultFrames;
        public long ResultBytes;
        public long EventFrames;
        public long EventBytes;
        public TaskCompletionSource Subscribed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Settled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task ConnectAsync(IPEndPoint server, string[] tokens, PresenceStatus awaited)
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, users), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, ct) =>
            {
                LoadConnection connection = await LoadConnection.ConnectAsync(server, tokens[i], ct);
                _connections[i] = connection;
                var request = new ArrayBufferWriter<byte>(256);
                ClientRequestWriter.PresenceSubscribe(request, 1, targets[i]);
                connection.Append(request.WrittenSpan);
                await connection.FlushAsync(ct);
                _ = Task.Run(() => ReadAsync(connection, targets[i], awaited));
            });
        }

        private async Task ReadAsync(LoadConnection connection, long[] watched, PresenceStatus awaited)
        {
            var view = new Dictionary<long, PresenceStatus>();
            bool done = false;
            try
            {
                while (true)
                {
                    (bool open, ReadOnlyMemory<byte> payload) = await connection.ReceiveAsync();
                    if (!open)
                    {
                        return;
                    }
                    switch (ServerMessageReader.Read(new ReadOnlySequence<byte>(payload)))
                    {
                        case PresenceResultMessage result:
                            Interlocked.Increment(ref ResultFrames);
                            Interlocked.Add(ref ResultBytes, payload.Length + 4);
                            foreach (PresenceEntry entry in result.Entries)
                            {
                                view[entry.User] = entry.Status;
                            }
                            if (Interlocked.Increment(ref _subscribed) == users)
                            {
                                Subscribed.TrySetResult();
                            }
                            break;
                        case PresenceEventMessage changed:
                            Interlocked.Increment(ref EventFrames);
                            Interlocked.Add(ref EventBytes, payload.Length + 4);
                            foreach (PresenceEntry entry in changed.Changes)
                            {
                                view[entry.User] = entry.Status;
                            }
                            break;
                        default:
                            continue;
                    }
                    if (!done && awaited == PresenceStatus.Online && watched.All(u => view.GetValueOrDefault(u) == PresenceStatus.Online))
                    {
                        done = true;
                        if (Interlocked.Increment(ref _settled) == users)
                        {
                            Settled.TrySetResult();
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
            }
        }

        public void Dispose()
        {
            foreach (LoadConnection? connection in _connections)
            {
                connection?.Dispose();
            }
        }
    }
}
