namespace ChatGateway.Storage.Reading;

/// <summary>A conversation with messages the user has not acknowledged yet.</summary>
/// <param name="Position">Queue position; acknowledge up to Position + 1 to remove it.</param>
/// <param name="Expired">No new message for longer than the pending TTL: the client must sync this conversation itself.</param>
public readonly record struct PendingItem(long Position, long Conversation, long FromSeq, long ToSeq, long LastAt, bool Expired);

/// <summary>A page of a user's pending queue, reusable.</summary>
public sealed class PendingPage
{
    public List<PendingItem> Items { get; } = [];

    /// <summary>Entries dropped because the queue was full since the last acknowledgement: the client must do a full sync.</summary>
    public long Dropped { get; internal set; }

    /// <summary>Acknowledge up to this position to remove every item of this page.</summary>
    public long NextPosition { get; internal set; }

    public bool HasMore { get; internal set; }

    internal void Reset()
    {
        Items.Clear();
        Dropped = NextPosition = 0;
        HasMore = false;
    }
}
