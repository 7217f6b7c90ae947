using ChatGateway.Protocol;

namespace ChatGateway.Server.Presence;

/// <summary>
/// Presence of every user with a session on this node, and of the users they subscribe to. Status is derived
/// from last_seen (the latest activity of any of the user's sessions): online under
/// <see cref="PresenceOptions.OnlineWindow"/>, away under <see cref="PresenceOptions.AwayWindow"/>, offline
/// after, and offline at once when the user's last session closes gracefully.
/// <list type="bullet">
/// <item>Time-driven transitions come from a timer wheel with one bucket per <see cref="PresenceOptions.SweepResolution"/>:
/// each user sits in the bucket of its next possible transition, and one timer walks the buckets, so cost
/// follows transitions, not users × ticks. Activity between transitions costs nothing: when a bucket comes
/// due, last_seen is refreshed from the sessions' last inbound frame (heartbeats, pongs, any request).</item>
/// <item>Changes are coalesced per subscriber: within <see cref="PresenceOptions.BatchInterval"/> a subscriber
/// gets one PresenceEvent holding the latest state of each changed user, so a mass reconnect costs one frame
/// per subscriber per window, not one per change.</item>
/// <item>last_seen is written to the store on every status change and otherwise at most every
/// <see cref="PresenceOptions.PersistInterval"/>, not per heartbeat.</item>
/// </list>
/// One lock guards everything; each operation is a few dictionary steps.
/// </summary>
public sealed class PresenceTracker : IDisposable
{
    private readonly object _gate = new();
    private readonly PresenceOptions _options;
    private readonly TimeProvider _time;
    private readonly Func<long, (long LastSeen, PresenceStatus Status)?> _load;
    private readonly Action<long, long, PresenceStatus> _persist;
    private readonly Dictionary<long, UserPresence> _users = [];
    private readonly Dictionary<long, List<long>> _wheel = [];
    private readonly Dictionary<IPresenceSubscriber, HashSet<long>> _subscriptions = [];
    private Dictionary<IPresenceSubscriber, Dictionary<long, PresenceEntry>> _changes = [];
    /// <summary>How often an away user with an open session is re-checked for activity.</summary>
    public const long AwayRecheckMs = 5_000;

    private readonly long _onlineMs;
    private readonly long _awayMs;
    private readonly long _bucketMs;
    private long _sweptBucket;
    private readonly ITimer _sweep;
    private readonly ITimer _flush;

    private sealed class UserPresence(long user)
    {
        public readonly long User = user;
        public long LastSeen;
        public PresenceStatus Status;
        public DeclaredStatus Declared;
        /// <summary>The last session closed gracefully: offline whatever the age of last_seen.</summary>
        public bool LeftGracefully;
        /// <summary>Usually one session, held without a list.</summary>
        public SessionSet Sessions;
        /// <summary>Null while nobody watches this user, as for most users (an empty set costs 64 bytes per connection).</summary>
        public HashSet<IPresenceSubscriber>? Subscribers;
        public long DueBucket;
        public long PersistedAt;
        public PresenceStatus PersistedStatus;
    }

    /// <param name="load">Reads a user's persisted last_seen and status (null: never seen).</param>
    /// <param name="persist">Writes a user's last_seen and status.</param>
    public PresenceTracker(PresenceOptions options, TimeProvider time, Func<long, (long LastSeen, PresenceStatus Status)?> load,
        Action<long, long, PresenceStatus> persist)
    {
        _options = options;
        _time = time;
        _load = load;
        _persist = persist;
        _onlineMs = (long)options.OnlineWindow.TotalMilliseconds;
        _awayMs = (long)options.AwayWindow.TotalMilliseconds;
        _bucketMs = Math.Max(1, (long)options.SweepResolution.TotalMilliseconds);
        _sweptBucket = Now / _bucketMs;
        _sweep = time.CreateTimer(_ => Sweep(), null, options.SweepResolution, options.SweepResolution);
        _flush = time.CreateTimer(_ => Flush(), null, options.BatchInterval, options.BatchInterval);
    }

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>Users tracked in memory (with sessions, subscribers, or a transition still due).</summary>
    public int TrackedUsers
    {
        get
        {
            lock (_gate)
            {
                return _users.Count;
            }
        }
    }

    public void SessionOpened(IPresenceSession session)
    {
        lock (_gate)
        {
            UserPresence user = GetOrLoad(session.UserId);
            user.Sessions.Add(session);
            user.LeftGracefully = false;
            user.LastSeen = Math.Max(user.LastSeen, Now);
            Update(user);
        }
    }

    /// <summary>Explicit activity (a Heartbeat): the user is online now.</summary>
    public void Touch(long userId)
    {
        lock (_gate)
        {
            if (_users.TryGetValue(userId, out UserPresence? user) && user.Sessions.Count > 0)
            {
                user.LastSeen = Math.Max(user.LastSeen, Now);
                Update(user);
            }
        }
    }

    /// <summary>
    /// A session ended. Graceful (the client closed it): if it was the user's last, the user is offline now,
    /// with last_seen = now. Otherwise (network loss, crash, timeout) status follows last_seen's age.
    /// </summary>
    public void SessionClosed(IPresenceSession session, bool graceful)
    {
        lock (_gate)
        {
            if (!_users.TryGetValue(session.UserId, out UserPresence? user) || !user.Sessions.Remove(session))
            {
                return;
            }
            user.LastSeen = Math.Max(user.LastSeen, graceful ? Now : session.LastActivityMs);
            if (user.Sessions.Count == 0 && graceful)
            {
                user.LeftGracefully = true;
            }
            Update(user);
        }
    }

    public void Declare(long userId, DeclaredStatus status)
    {
        lock (_gate)
        {
            UserPresence user = GetOrLoad(userId);
            user.Declared = status;
            Update(user);
        }
    }

    /// <summary>The current presence of each user (persisted last_seen for users not in memory).</summary>
    public void Query(IReadOnlyList<long> users, List<PresenceEntry> result)
    {
        lock (_gate)
        {
            foreach (long userId in users)
            {
                if (_users.TryGetValue(userId, out UserPresence? user))
                {
                    Update(user);
                    result.Add(Entry(user));
                }
                else
                {
                    (long lastSeen, PresenceStatus stored) = _load(userId) ?? (0, PresenceStatus.Offline);
                    var probe = new UserPresence(userId) { LastSeen = lastSeen, LeftGracefully = stored == PresenceStatus.Offline };
                    result.Add(new PresenceEntry(userId, Derive(probe, Now), lastSeen));
                }
            }
        }
    }

    /// <summary>Subscribes to <paramref name="users"/>, adding their current presence to <paramref name="snapshot"/>. Returns how many subscriptions the subscriber holds now.</summary>
    public int Subscribe(IPresenceSubscriber subscriber, IReadOnlyList<long> users, List<PresenceEntry> snapshot)
    {
        lock (_gate)
        {
            if (!_subscriptions.TryGetValue(subscriber, out HashSet<long>? subscribed))
            {
                subscribed = [];
                _subscriptions[subscriber] = subscribed;
            }
            foreach (long userId in users)
            {
                UserPresence user = GetOrLoad(userId);
                (user.Subscribers ??= []).Add(subscriber);
                subscribed.Add(userId);
                Update(user);
                snapshot.Add(Entry(user));
            }
            return subscribed.Count;
        }
    }

    /// <summary>How many users <paramref name="subscriber"/> is subscribed to, counting <paramref name="more"/> not yet among them.</summary>
    public int SubscriptionCountWith(IPresenceSubscriber subscriber, IReadOnlyList<long> more)
    {
        lock (_gate)
        {
            HashSet<long>? subscribed = _subscriptions.GetValueOrDefault(subscriber);
            int count = subscribed?.Count ?? 0;
            var seen = new HashSet<long>();
            foreach (long user in more)
            {
                if (seen.Add(user) && subscribed?.Contains(user) != true)
                {
                    count++;
                }
            }
            return count;
        }
    }

    public void Unsubscribe(IPresenceSubscriber subscriber, IReadOnlyList<long> users)
    {
        lock (_gate)
        {
            if (!_subscriptions.TryGetValue(subscriber, out HashSet<long>? subscribed))
            {
                return;
            }
            foreach (long userId in users)
            {
                if (subscribed.Remove(userId) && _users.TryGetValue(userId, out UserPresence? user))
                {
                    RemoveSubscriberOf(user, subscriber);
                    ForgetIfIdle(user);
                }
            }
        }
    }

    /// <summary>A subscriber's session ended: drop all its subscriptions and undelivered changes.</summary>
    public void RemoveSubscriber(IPresenceSubscriber subscriber)
    {
        lock (_gate)
        {
            if (_subscriptions.Remove(subscriber, out HashSet<long>? subscribed))
            {
                foreach (long userId in subscribed)
                {
                    if (_users.TryGetValue(userId, out UserPresence? user))
                    {
                        RemoveSubscriberOf(user, subscriber);
                        ForgetIfIdle(user);
                    }
                }
            }
            _changes.Remove(subscriber);
        }
    }

    /// <summary>Evaluates the users whose transition is due (the timer calls it; tests may too).</summary>
    public void Sweep()
    {
        lock (_gate)
        {
            long current = Now / _bucketMs;
            for (long bucket = _sweptBucket + 1; bucket <= current; bucket++)
            {
                if (!_wheel.Remove(bucket, out List<long>? due))
                {
                    continue;
                }
                foreach (long userId in due)
                {
                    if (_users.TryGetValue(userId, out UserPresence? user) && user.DueBucket == bucket)
                    {
                        user.DueBucket = 0;
                        Update(user);
                    }
                }
            }
            _sweptBucket = Math.Max(_sweptBucket, current);
        }
    }

    /// <summary>Sends each subscriber its coalesced changes (the timer calls it; tests may too).</summary>
    public void Flush()
    {
        Dictionary<IPresenceSubscriber, Dictionary<long, PresenceEntry>> changes;
        lock (_gate)
        {
            if (_changes.Count == 0)
            {
                return;
            }
            changes = _changes;
            _changes = [];
        }
        foreach ((IPresenceSubscriber subscriber, Dictionary<long, PresenceEntry> entries) in changes)
        {
            subscriber.SendPresenceEvent([.. entries.Values]);
        }
    }

    private UserPresence GetOrLoad(long userId)
    {
        if (!_users.TryGetValue(userId, out UserPresence? user))
        {
            user = new UserPresence(userId);
            if (_load(userId) is var (lastSeen, status))
            {
                user.LastSeen = lastSeen;
                user.LeftGracefully = status == PresenceStatus.Offline;
                user.PersistedAt = Now;
                user.PersistedStatus = status;
            }
            user.Status = Derive(user, Now);
            _users[userId] = user;
        }
        return user;
    }

    /// <summary>Refreshes last_seen from the sessions, re-derives status, tells subscribers, persists, reschedules.</summary>
    private void Update(UserPresence user)
    {
        long now = Now;
        foreach (IPresenceSession session in user.Sessions)
        {
            user.LastSeen = Math.Max(user.LastSeen, session.LastActivityMs);
        }
        PresenceStatus status = Derive(user, now);
        if (status != user.Status)
        {
            user.Status = status;
            PresenceEntry entry = Entry(user);
            if (user.Subscribers is { } subscribers)
            {
                foreach (IPresenceSubscriber subscriber in subscribers)
                {
                    if (!_changes.TryGetValue(subscriber, out Dictionary<long, PresenceEntry>? pending))
                    {
                        pending = [];
                        _changes[subscriber] = pending;
                    }
                    pending[user.User] = entry; // coalesced: the latest state per user
                }
            }
        }
        if (user.LastSeen > 0 && (status != user.PersistedStatus || now - user.PersistedAt >= (long)_options.PersistInterval.TotalMilliseconds))
        {
            _persist(user.User, user.LastSeen, status);
            user.PersistedAt = now;
            user.PersistedStatus = status;
        }
        Schedule(user, now);
        ForgetIfIdle(user);
    }

    private PresenceStatus Derive(UserPresence user, long now)
    {
        long age = now - user.LastSeen;
        if (user.LastSeen == 0 || age >= _awayMs || (user.LeftGracefully && user.Sessions.Count == 0))
        {
            return PresenceStatus.Offline;
        }
        if (age >= _onlineMs || user.Declared == DeclaredStatus.Away)
        {
            return PresenceStatus.Away;
        }
        return PresenceStatus.Online;
    }

    /// <summary>Puts the user in the wheel bucket of its next possible transition (none once offline without sessions).</summary>
    private void Schedule(UserPresence user, long now)
    {
        long next = user.Status switch
        {
            PresenceStatus.Online => user.LastSeen + _onlineMs,
            PresenceStatus.Away when now - user.LastSeen < _onlineMs => user.LastSeen + _onlineMs, // declared away: re-check activity
            // Away with a session open: activity (a pong, any frame) may bring the user back at any moment, and
            // only a due bucket looks at it; re-check every few seconds rather than at the 5-minute mark.
            PresenceStatus.Away when user.Sessions.Count > 0 => Math.Min(now + AwayRecheckMs, user.LastSeen + _awayMs),
            PresenceStatus.Away => user.LastSeen + _awayMs,
            _ => 0,
        };
        if (next == 0)
        {
            user.DueBucket = 0;
            return;
        }
        long bucket = Math.Max(next / _bucketMs + (next % _bucketMs == 0 ? 0 : 1), _sweptBucket + 1);
        if (user.DueBucket == bucket)
        {
            return;
        }
        user.DueBucket = bucket;
        if (!_wheel.TryGetValue(bucket, out List<long>? list))
        {
            list = [];
            _wheel[bucket] = list;
        }
        list.Add(user.User);
    }

    private static void RemoveSubscriberOf(UserPresence user, IPresenceSubscriber subscriber)
    {
        if (user.Subscribers is { } subscribers && subscribers.Remove(subscriber) && subscribers.Count == 0)
        {
            user.Subscribers = null;
        }
    }

    /// <summary>Bounded memory: a user no session holds, nobody watches and no transition awaits is dropped (it is in the store).</summary>
    private void ForgetIfIdle(UserPresence user)
    {
        if (user.Sessions.Count == 0 && user.Subscribers is null && user.DueBucket == 0)
        {
            _users.Remove(user.User);
        }
    }

    private static PresenceEntry Entry(UserPresence user) => new(user.User, user.Status, user.LastSeen);

    /// <summary>Writes every tracked user's last_seen (shutdown: the periodic write may be up to a PersistInterval behind).</summary>
    public void PersistAll()
    {
        lock (_gate)
        {
            foreach (UserPresence user in _users.Values)
            {
                foreach (IPresenceSession session in user.Sessions)
                {
                    user.LastSeen = Math.Max(user.LastSeen, session.LastActivityMs);
                }
                if (user.LastSeen > 0)
                {
                    _persist(user.User, user.LastSeen, user.Status);
                }
            }
        }
    }

    public void Dispose()
    {
        _sweep.Dispose();
        _flush.Dispose();
    }
}
