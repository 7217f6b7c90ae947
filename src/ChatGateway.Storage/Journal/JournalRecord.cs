namespace ChatGateway.Storage.Journal;

/// <summary>
/// One decoded journal record: a change of state, as applied by <see cref="State.StateMachine"/>.
/// Every record carries the outcome of the decisions taken when it was written (the assigned seq, the
/// message a retention limit deletes, the queue depth in force), so that replaying the journal reproduces
/// the same state whatever the configuration is at replay time.
/// <para>Field use by kind:</para>
/// <list type="bullet">
/// <item>MessageAppended: Conversation, Seq, User (sender), Timestamp, ClientId, Aux (seq deleted by count retention, 0 = none), Body.</item>
/// <item>MemberAdded / MemberRemoved: Conversation, User, Timestamp.</item>
/// <item>PendingEnqueued: User, Conversation, Seq, Timestamp, Aux (queue depth limit).</item>
/// <item>PendingAcked: User, Aux (position acknowledged up to, exclusive), Timestamp.</item>
/// <item>ReadMarked: User, Conversation, Seq (read up to, inclusive), Timestamp.</item>
/// </list>
/// </summary>
internal ref struct JournalRecord
{
    public RecordKind Kind;
    public long Conversation;
    public long Seq;
    public long User;
    public long Timestamp;
    public long Aux;
    public ClientMessageId ClientId;
    public ReadOnlySpan<byte> Body;
}
