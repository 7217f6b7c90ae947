namespace ChatGateway.Server.Presence;

/// <summary>
/// The open sessions of one user. Almost always one, so one is held without a collection: the one-slot
/// <c>List</c> it replaces cost 64 bytes per connected user. A user on several devices gets a list.
/// Not thread-safe: the tracker uses it under its lock.
/// </summary>
internal struct SessionSet
{
    private object? _sessions; // null, one IPresenceSession, or a List<IPresenceSession> of two or more

    public readonly int Count => CountOf(_sessions);

    public void Add(IPresenceSession session)
    {
        switch (_sessions)
        {
            case null:
                _sessions = session;
                break;
            case List<IPresenceSession> several:
                several.Add(session);
                break;
            default:
                _sessions = new List<IPresenceSession>(2) { (IPresenceSession)_sessions, session };
                break;
        }
    }

    /// <summary>False when <paramref name="session"/> is not in the set.</summary>
    public bool Remove(IPresenceSession session)
    {
        switch (_sessions)
        {
            case null:
                return false;
            case List<IPresenceSession> several:
                if (!several.Remove(session))
                {
                    return false;
                }
                if (several.Count == 1)
                {
                    _sessions = several[0]; // back to one device: the list goes
                }
                return true;
            default:
                if (!ReferenceEquals(_sessions, session))
                {
                    return false;
                }
                _sessions = null;
                return true;
        }
    }

    public readonly Enumerator GetEnumerator() => new(_sessions);

    private static int CountOf(object? sessions) => sessions switch
    {
        null => 0,
        List<IPresenceSession> several => several.Count,
        _ => 1,
    };

    public struct Enumerator(object? sessions)
    {
        private int _index = -1;

        public readonly IPresenceSession Current =>
            sessions is List<IPresenceSession> several ? several[_index] : (IPresenceSession)sessions!;

        public bool MoveNext() => ++_index < CountOf(sessions);
    }
}
