using System.Collections.Concurrent;

namespace ChatGateway.Server.Sessions;

/// <summary>
/// The sessions open on this node, by user. Fan-out reads a user's sessions as an immutable array snapshot,
/// without locking; registering and unregistering replace the user's (small, bounded) array with a compare-and-swap,
/// retried when another change to the same user came first.
/// <para>
/// The dictionary holds the array itself, with no entry object around it: a user with one device costs a dictionary
/// node and a one-slot array, 32 B less per connection than an entry with a lock.
/// </para>
/// Bound: <see cref="Messaging.ChatOptions.MaxSessionsPerUser"/> per user: registering one more evicts the oldest.
/// </summary>
public sealed class SessionRegistry
{
    private readonly ConcurrentDictionary<long, ChatSession[]> _users = new();
    private readonly int _maxPerUser;
    private int _count;

    public SessionRegistry(int maxPerUser) => _maxPerUser = maxPerUser;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Adds a session; returns the user's oldest session when the limit is exceeded (the caller closes it).</summary>
    public ChatSession? Register(ChatSession session)
    {
        while (true)
        {
            if (!_users.TryGetValue(session.UserId, out ChatSession[]? current))
            {
                if (_users.TryAdd(session.UserId, [session]))
                {
                    Interlocked.Increment(ref _count);
                    return null;
                }
                continue; // another session of the user registered first
            }
            ChatSession? evicted = current.Length >= _maxPerUser ? current[0] : null;
            ChatSession[] next = evicted is null ? [.. current, session] : [.. current[1..], session];
            // Arrays compare by reference: the swap happens only if nobody replaced the array since it was read.
            if (_users.TryUpdate(session.UserId, next, current))
            {
                if (evicted is null)
                {
                    Interlocked.Increment(ref _count);
                }
                return evicted;
            }
        }
    }

    public void Unregister(ChatSession session)
    {
        while (_users.TryGetValue(session.UserId, out ChatSession[]? current))
        {
            int index = Array.IndexOf(current, session);
            if (index < 0)
            {
                return; // evicted earlier
            }
            bool swapped = current.Length == 1
                ? _users.TryRemove(new KeyValuePair<long, ChatSession[]>(session.UserId, current))
                : _users.TryUpdate(session.UserId, [.. current[..index], .. current[(index + 1)..]], current);
            if (swapped)
            {
                Interlocked.Decrement(ref _count);
                return;
            }
        }
    }

    /// <summary>The user's open sessions on this node (empty when none): a snapshot, safe to iterate.</summary>
    public ChatSession[] SessionsOf(long user) => _users.TryGetValue(user, out ChatSession[]? sessions) ? sessions : [];

    /// <summary>Every open session (for sweeps and shutdown); allocates, not for hot paths.</summary>
    public List<ChatSession> All()
    {
        var all = new List<ChatSession>(Count);
        foreach (ChatSession[] sessions in _users.Values)
        {
            all.AddRange(sessions);
        }
        return all;
    }
}
