using ChatGateway.Protocol;
using ChatGateway.Server.Presence;
using Microsoft.Extensions.Time.Testing;

namespace ChatGateway.Server.Tests.Presence;

/// <summary>The tracker on a fake clock: transitions at their boundaries, devices, disconnects, coalescing, writes.</summary>
public sealed class PresenceTrackerTests : IDisposable
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
    private readonly Dictionary<long, (long LastSeen, PresenceStatus Status)> _stored = [];
    private readonly List<(long User, long LastSeen, PresenceStatus Status)> _writes = [];
    private readonly PresenceTracker _tracker;

    public PresenceTrackerTests()
    {
        _tracker = new PresenceTracker(new PresenceOptions(), _time,
            user => _stored.TryGetValue(user, out var stored) ? stored : null,
            (user, lastSeen, status) =>
            {
                _stored[user] = (lastSeen, status);
                _writes.Add((user, lastSeen, status));
            });
    }

    public void Dispose() => _tracker.Dispose();

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private sealed class Device(long user, long lastActivity) : IPresenceSession
    {
        public long UserId => user;
        public long LastActivityMs { get; set; } = lastActivity;
    }

    private sealed class Watcher : IPresenceSubscriber
    {
        public List<IReadOnlyList<PresenceEntry>> Events { get; } = [];
        public void SendPresenceEvent(IReadOnlyList<PresenceEntry> changes) => Events.Add(changes);
    }

    private PresenceEntry StatusOf(long user)
    {
        var result = new List<PresenceEntry>();
        _tracker.Query([user], result);
        return Assert.Single(result);
    }

    private void Advance(TimeSpan by) => _time.Advance(by); // the tracker's timers (sweep, flush) fire as time passes

    [Fact]
    public void Status_follows_last_seen_across_the_30_second_and_5_minute_boundaries_without_any_client_action()
    {
        var device = new Device(1, Now);
        _tracker.SessionOpened(device);
        long seen = Now;

        Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(PresenceStatus.Online, StatusOf(1).Status);
        Advance(TimeSpan.FromSeconds(2)); // 31 s
        Assert.Equal(PresenceStatus.Away, StatusOf(1).Status);
        Advance(TimeSpan.FromSeconds(4 * 60 + 59 - 31)); // 4 min 59 s
        Assert.Equal(PresenceStatus.Away, StatusOf(1).Status);
        Advance(TimeSpan.FromSeconds(2)); // 5 min 1 s
        Assert.Equal(new PresenceEntry(1, PresenceStatus.Offline, seen), StatusOf(1));
    }

    [Fact]
    public void Transitions_reach_subscribers_from_the_timer_alone()
    {
        var watcher = new Watcher();
        _tracker.Subscribe(watcher, [1], []);
        _tracker.SessionOpened(new Device(1, Now));
        Advance(TimeSpan.FromSeconds(1));
        Advance(TimeSpan.FromSeconds(31));
        Advance(TimeSpan.FromMinutes(5));

        Assert.Equal([PresenceStatus.Online, PresenceStatus.Away, PresenceStatus.Offline], watcher.Events.Select(e => Assert.Single(e).Status));
    }

    [Fact]
    public void Activity_of_any_device_keeps_the_user_online_and_a_heartbeat_brings_an_away_user_back()
    {
        var phone = new Device(1, Now);
        var laptop = new Device(1, Now);
        _tracker.SessionOpened(phone);
        _tracker.SessionOpened(laptop);
        for (int i = 0; i < 10; i++)
        {
            Advance(TimeSpan.FromSeconds(20));
            laptop.LastActivityMs = Now; // the laptop keeps talking (a pong is enough); the phone is silent
        }
        Assert.Equal(PresenceStatus.Online, StatusOf(1).Status);

        Advance(TimeSpan.FromSeconds(40));
        Assert.Equal(PresenceStatus.Away, StatusOf(1).Status);
        _tracker.Touch(1);
        Assert.Equal(PresenceStatus.Online, StatusOf(1).Status);
    }

    [Fact]
    public void A_graceful_close_of_the_last_device_is_offline_at_once_and_an_abrupt_one_falls_back_to_the_timeouts()
    {
        var phone = new Device(1, Now);
        var laptop = new Device(1, Now);
        _tracker.SessionOpened(phone);
        _tracker.SessionOpened(laptop);
        Advance(TimeSpan.FromSeconds(5));

        _tracker.SessionClosed(phone, graceful: true);
        Assert.Equal(PresenceStatus.Online, StatusOf(1).Status); // the laptop is still there
        _tracker.SessionClosed(laptop, graceful: true);
        Assert.Equal(new PresenceEntry(1, PresenceStatus.Offline, Now), StatusOf(1));

        var tablet = new Device(2, Now);
        _tracker.SessionOpened(tablet);
        long lastActivity = Now;
        Advance(TimeSpan.FromSeconds(10));
        _tracker.SessionClosed(tablet, graceful: false); // the network went away
        Assert.Equal(new PresenceEntry(2, PresenceStatus.Online, lastActivity), StatusOf(2));
        Advance(TimeSpan.FromSeconds(21));
        Assert.Equal(PresenceStatus.Away, StatusOf(2).Status);
        Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(PresenceStatus.Offline, StatusOf(2).Status);
    }

    [Fact]
    public void A_declared_away_overrides_online_but_not_offline()
    {
        _tracker.SessionOpened(new Device(1, Now));
        _tracker.Declare(1, DeclaredStatus.Away);
        Assert.Equal(PresenceStatus.Away, StatusOf(1).Status);
        _tracker.Declare(1, DeclaredStatus.Auto);
        Assert.Equal(PresenceStatus.Online, StatusOf(1).Status);
    }

    [Fact]
    public void A_mass_reconnect_gives_each_subscriber_one_coalesced_event_not_one_per_change()
    {
        var watchers = Enumerable.Range(0, 20).Select(_ => new Watcher()).ToArray();
        long[] users = [.. Enumerable.Range(100, 500).Select(i => (long)i)];
        foreach (Watcher watcher in watchers)
        {
            _tracker.Subscribe(watcher, users, []);
        }
        var devices = users.Select(u => new Device(u, Now)).ToList();
        foreach (Device device in devices)
        {
            _tracker.SessionOpened(device);
            _tracker.SessionClosed(device, graceful: false);
            _tracker.SessionOpened(device); // flapping within one batch window
        }
        _tracker.Flush();

        foreach (Watcher watcher in watchers)
        {
            IReadOnlyList<PresenceEntry> batch = Assert.Single(watcher.Events);
            Assert.Equal(users, batch.Select(e => e.User).Order());
            Assert.All(batch, e => Assert.Equal(PresenceStatus.Online, e.Status));
        }
    }

    [Fact]
    public void Heartbeats_do_not_write_each_time_but_status_changes_do()
    {
        _tracker.SessionOpened(new Device(1, Now));
        int afterOpen = _writes.Count;
        for (int i = 0; i < 5; i++)
        {
            Advance(TimeSpan.FromSeconds(5));
            _tracker.Touch(1);
        }
        Assert.Equal(afterOpen, _writes.Count); // 25 s of heartbeats: nothing new to write

        Advance(TimeSpan.FromSeconds(31)); // online -> away
        Assert.Equal((1L, PresenceStatus.Away), (_writes[^1].User, _writes[^1].Status));
        Assert.Equal(1, _writes.Count - afterOpen);
    }

    [Fact]
    public void Users_nobody_holds_or_watches_are_dropped_from_memory_and_answered_from_the_store()
    {
        var device = new Device(7, Now);
        _tracker.SessionOpened(device);
        _tracker.SessionClosed(device, graceful: true);
        long seen = Now;

        Assert.Equal(0, _tracker.TrackedUsers);
        Advance(TimeSpan.FromHours(1));
        Assert.Equal(new PresenceEntry(7, PresenceStatus.Offline, seen), StatusOf(7));
        Assert.Equal(new PresenceEntry(8, PresenceStatus.Offline, 0), StatusOf(8)); // never seen
    }
}
