namespace ChatGateway.Storage.Reading;

/// <summary>
/// A page of messages read from one conversation, reusable: bodies are copied into one buffer the page
/// owns, so reading into the same page again allocates nothing once the buffer has grown to fit.
/// </summary>
public sealed class MessagePage
{
    private byte[] _buffer = new byte[16 * 1024];
    private int _used;

    public List<StoredMessage> Messages { get; } = [];

    /// <summary>Bytes the page's body buffer holds (it grows to fit the largest page read into it).</summary>
    public int Capacity => _buffer.Length;

    /// <summary>The conversation's last committed seq when the page was read.</summary>
    public long Head { get; internal set; }

    /// <summary>The lowest seq still held; messages below it are gone (retention).</summary>
    public long EarliestAvailable { get; internal set; }

    /// <summary>
    /// The range asked for reached below <see cref="EarliestAvailable"/>: some of it no longer exists. The
    /// client cannot fill the gap from history and must do a full sync.
    /// </summary>
    public bool Truncated { get; internal set; }

    /// <summary>More messages exist past this page in the direction read.</summary>
    public bool HasMore { get; internal set; }

    internal void Reset()
    {
        Messages.Clear();
        _used = 0;
        Head = EarliestAvailable = 0;
        Truncated = HasMore = false;
    }

    /// <summary>Room for one more value of up to <paramref name="size"/> bytes.</summary>
    internal Span<byte> Reserve(int size)
    {
        if (_buffer.Length - _used < size)
        {
            // Bodies already handed out keep the old buffer alive; new ones go to the bigger one.
            _buffer = new byte[Math.Max(_buffer.Length * 2, size)];
            _used = 0;
        }
        return _buffer.AsSpan(_used, size);
    }

    /// <summary>Keeps <paramref name="length"/> bytes of the last reservation and returns them.</summary>
    internal ReadOnlyMemory<byte> Commit(int offset, int length)
    {
        ReadOnlyMemory<byte> kept = _buffer.AsMemory(_used + offset, length - offset);
        _used += length;
        return kept;
    }
}
