using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using ChatGateway.Benchmarks.Storage;
using ChatGateway.Protocol;
using ChatGateway.Server.Presence;
using ChatGateway.Storage;
using ChatGateway.Storage.Reading;
using MessagePack;
using Microsoft.Extensions.Time.Testing;

namespace ChatGateway.Benchmarks.Presence;

/// <summary>
/// `./run.sh bench presence`: the presence tracker against a real store, without network (what presence itself
/// costs; the frames' WebSocket cost is the connection layer's).
/// <list type="number">
/// <item>heartbeat: 18,000 users with a session each, heartbeating every 24 s (80% of 30 s, as the SDK does), for
/// 10 simulated minutes on a fake clock. Reports the CPU time spent in the tracker (its calls and its timers) as a
/// share of one core, and the presence writes to the store per second.</item>
/// <item>reconnect: after a node restart, 10,000 users reconnect as fast as possible, each subscribing to 20
/// others (persisted state: last seen 60 s ago). Reports the presence frames and bytes sent and the time until
/// every subscriber holds every one of its users as online.</item>
/// </list>
/// </summary>
internal static class PresenceMeasurement
{
    private const int PresenceRecordBytes = 9 + 16 + 8; // key + value + FASTER record header: what one write adds to the index log

    public static async Task<int> RunAsync(string[] args)
    {
        string directory = BenchStore.NewDirectory();
        try
        {
            await using ChatStore store = await ChatStore.OpenAsync(BenchStore.Options(directory, DurabilityMode.Commit));
            Heartbeats(store, users: 18_000, heartbeat: TimeSpan.FromSeconds(24), duration: TimeSpan.FromMinutes(10));
            await MassReconnectAsync(store, users: 10_000, subscriptionsEach: 20);
            return 0;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private sealed class Session(long user, TimeProvider time) : IPresenceSession, IPresenceSubscriber
    {
        public long UserId => user;
        public long LastActivityMs { get; set; } = time.GetUtcNow().ToUnixTimeMilliseconds();
        public readonly Dictionary<long, PresenceStatus> View = [];
        public int Events;
        public long EventBytes;
        public Action<Session>? Changed;

        public void SendPresenceEvent(IReadOnlyList<PresenceEntry> changes)
        {
            var buffer = new ArrayBufferWriter<byte>(64);
            var w = new MessagePackWriter(buffer);
            ServerMessageWriter.PresenceEvent(ref w, changes);
            w.Flush();
            lock (View)
            {
                Events++;
                EventBytes += buffer.WrittenCount + 4; // + the WebSocket header
                foreach (PresenceEntry change in changes)
                {
                    View[change.User] = change.Status;
                }
            }
            Changed?.Invoke(this);
        }
    }

    private static void Heartbeats(ChatStore store, int users, TimeSpan heartbeat, TimeSpan duration)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        long writes = 0;
        using var tracker = new PresenceTracker(new PresenceOptions(), time, user => Load(store, user),
            (user, lastSeen, status) =>
            {
                writes++;
                store.SetPresence(user, lastSeen, (int)status);
            });
        var sessions = Enumerable.Range(1, users).Select(u => new Session(u, time)).ToArray();
        var cpu = Stopwatch.StartNew();
        foreach (Session session in sessions)
        {
            tracker.SessionOpened(session);
        }
        long writesAfterConnect = writes;
        cpu.Stop();

        // Each user heartbeats once per interval, users spread evenly over it; time advances in 100 ms steps and
        // the tracker's timers (sweep, flush) run inside Advance, so they are inside the measured time.
        TimeSpan step = TimeSpan.FromMilliseconds(100);
        long steps = (long)(duration / step);
        long stepsPerBeat = (long)(heartbeat / step);
        long touches = 0;
        for (long i = 0; i < steps; i++)
        {
            cpu.Start();
            time.Advance(step);
            long now = time.GetUtcNow().ToUnixTimeMilliseconds();
            for (int u = (int)(i % stepsPerBeat); u < users; u += (int)stepsPerBeat)
            {
                sessions[u].LastActivityMs = now; // the Heartbeat frame's own activity
                tracker.Touch(sessions[u].UserId);
                touches++;
            }
            cpu.Stop();
        }
        double simulated = duration.TotalSeconds;
        Console.WriteLine($"heartbeat: {users:N0} users, one heartbeat per user per {heartbeat.TotalSeconds:F0} s, {simulated:F0} simulated seconds");
        Console.WriteLine($"  tracker CPU: {cpu.Elapsed.TotalMilliseconds:F0} ms for {touches:N0} heartbeats = {cpu.Elapsed.TotalSeconds / simulated * 100:F3}% of one core " +
                          $"({cpu.Elapsed.TotalMilliseconds * 1000 / touches:F2} us per heartbeat, sweeps and flushes included)");
        long heartbeatWrites = writes - writesAfterConnect;
        Console.WriteLine($"  store writes: {writesAfterConnect:N0} at connect, then {heartbeatWrites:N0} in {simulated:F0} s = {heartbeatWrites / simulated:F1}/s, " +
                          $"~{heartbeatWrites * PresenceRecordBytes / simulated:F0} bytes/s into the index log (on disk with checkpoints); " +
                          $"a write per heartbeat would be {touches / simulated:F0}/s");
    }

    private static async Task MassReconnectAsync(ChatStore store, int users, int subscriptionsEach)
    {
        TimeProvider time = TimeProvider.System;
        long before = time.GetUtcNow().ToUnixTimeMilliseconds() - 60_000;
        for (long user = 1; user <= users; user++)
        {
            store.SetPresence(user, before, (int)PresenceStatus.Online); // as a shutdown 60 s ago left it
        }
        using var tracker = new PresenceTracker(new PresenceOptions(), time, user => Load(store, user),
            (user, lastSeen, status) => store.SetPresence(user, lastSeen, (int)status));
        var random = new Random(42);
        var targets = new long[users + 1][];
        for (int user = 1; user <= users; user++)
        {
            var chosen = new HashSet<long>();
            while (chosen.Count < subscriptionsEach)
            {
                long other = random.Next(1, users + 1);
                if (other != user)
                {
                    chosen.Add(other);
                }
            }
            targets[user] = [.. chosen];
        }

        int satisfied = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finished = new ConcurrentDictionary<long, bool>();
        void Check(Session session)
        {
            lock (session.View)
            {
                if (finished.ContainsKey(session.UserId) || targets[session.UserId].Any(t => session.View.GetValueOrDefault(t) != PresenceStatus.Online))
                {
                    return;
                }
            }
            if (finished.TryAdd(session.UserId, true) && Interlocked.Increment(ref satisfied) == users)
            {
                done.TrySetResult();
            }
        }

        var sessions = Enumerable.Range(1, users).Select(u => new Session(u, time) { Changed = Check }).ToArray();
        long resultFrames = 0, resultBytes = 0;
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, users).OrderBy(_ => random.Next()), new ParallelOptions { MaxDegreeOfParallelism = 2 }, (index, _) =>
        {
            Session session = sessions[index];
            tracker.SessionOpened(session);
            var snapshot = new List<PresenceEntry>();
            tracker.Subscribe(session, targets[session.UserId], snapshot);
            var buffer = new ArrayBufferWriter<byte>(512);
            var w = new MessagePackWriter(buffer);
            ServerMessageWriter.PresenceResult(ref w, 1, snapshot, []);
            w.Flush();
            Interlocked.Increment(ref resultFrames);
            Interlocked.Add(ref resultBytes, buffer.WrittenCount + 4);
            lock (session.View)
            {
                foreach (PresenceEntry entry in snapshot)
                {
                    session.View[entry.User] = entry.Status;
                }
            }
            Check(session);
            return ValueTask.CompletedTask;
        });
        TimeSpan connected = clock.Elapsed;
        await done.Task.WaitAsync(TimeSpan.FromMinutes(2));
        TimeSpan settled = clock.Elapsed;
        long events = sessions.Sum(s => s.Events);
        long eventBytes = sessions.Sum(s => s.EventBytes);
        Console.WriteLine($"reconnect: {users:N0} users reconnect after a restart, each subscribing to {subscriptionsEach} others " +
                          $"({users * subscriptionsEach:N0} subscriptions)");
        Console.WriteLine($"  all connected and subscribed in {connected.TotalMilliseconds:F0} ms; every subscriber holds the final state after {settled.TotalMilliseconds:F0} ms " +
                          $"(batch window {new PresenceOptions().BatchInterval.TotalMilliseconds:F0} ms)");
        Console.WriteLine($"  subscribe answers: {resultFrames:N0} frames, {resultBytes:N0} bytes");
        Console.WriteLine($"  change events: {events:N0} frames ({(double)events / users:F2} per subscriber), {eventBytes:N0} bytes; " +
                          $"one frame per change would be {users * (long)subscriptionsEach:N0}");
    }

    private static (long, PresenceStatus)? Load(ChatStore store, long user) =>
        store.TryGetPresence(user, out PresenceInfo info) ? (info.LastSeen, (PresenceStatus)info.Status) : null;
}
