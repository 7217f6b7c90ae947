using System.Collections.Concurrent;

namespace ChatGateway.Peers;

/// <summary>
/// User id → the connection that user holds (one device per user: the relay's scenarios need no more). Bounded by
/// the connections the process can hold; a second connection of a user replaces the first.
/// </summary>
public sealed class Connections<T> where T : class
{
    private readonly ConcurrentDictionary<long, T> _byUser = new();

    public int Count => _byUser.Count;

    public void Add(long user, T connection) => _byUser[user] = connection;

    public void Remove(long user, T connection) => _byUser.TryRemove(new KeyValuePair<long, T>(user, connection));

    public T? Find(long user) => _byUser.GetValueOrDefault(user);
}
