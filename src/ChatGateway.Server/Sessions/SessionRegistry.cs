using System.Collections.Concurrent;

namespace ChatGateway.Server.Sessions;

/// <summary>
/// The sessions open on this node, by user. Fan-out reads a user's sessions as an immutable array snapshot,
/// without locking; registering and unregistering copy the (small, bounded) array under the user's lock.
/// Bound: <see cref="Messaging.ChatOptions.MaxSessionsPerUser"/> per user: registering one more evicts the oldest.
/// </summary>
public sealed class SessionRegistry
{
    private readonly ConcurrentDictionary<long, UserSessions> _users = new();
    private readonly int _maxPerUser;
    private int _count;

    public SessionRegistry(int maxPerUser) => _maxPerUser = maxPerUser;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds a session; returns the user's oldest session when the limit is exceeded (the caller closes it).</summary>
    public ChatSession? Register(ChatSession session)
    {
        while (true)
        {
            UserSessions entry = _users.GetOrAdd(session.UserId, static _ => new UserSessions());
            lock (entry)
            {
                if (entry.Removed)
                {
                    continue; // raced with the removal of an emptied entry: take a fresh one
                }
                ChatSession[] current = entry.Sessions;
                ChatSession? evicted = current.Length >= _maxPerUser ? current[0] : null;
                ChatSession[] next = evicted is null ? [.. current, session] : [.. current[1..], session];
                entry.Sessions = next;
                Interlocked.Add(ref _count, evicted is null ? 1 : 0);
                return evicted;
            }
        }
    }

    public void Unregister(ChatSession session)
    {
        if (!_users.TryGetValue(session.UserId, out UserSessions? entry))
        {
            return;
        }
        lock (entry)
        {
            int index = Array.IndexOf(entry.Sessions, session);
            if (index < 0)
            {
                return; // evicted earlier
            }
            entry.Sessions = [.. entry.Sessions[..index], .. entry.Sessions[(index + 1)..]];
            Interlocked.Decrement(ref _count);
            if (entry.Sessions.Length == 0)
            {
                entry.Removed = true;
                _users.TryRemove(new KeyValuePair<long, UserSessions>(session.UserId, entry));
            }
        }
    }

    /// <summary>The user's open sessions on this node (empty when none): a snapshot, safe to iterate.</summary>
    public ChatSession[] SessionsOf(long user) => _users.TryGetValue(user, out UserSessions? entry) ? entry.Sessions : [];

    /// <summary>Every open session (for sweeps and shutdown); allocates, not for hot paths.</summary>
    public List<ChatSession> All()
    {
        var all = new List<ChatSession>(Count);
        foreach (UserSessions entry in _users.Values)
        {
            all.AddRange(entry.Sessions);
        }
        return all;
    }

    private sealed class UserSessions
    {
        public volatile ChatSession[] Sessions = [];
        public bool Removed;
    }
}
