namespace ChatGateway.Storage.Journal;

/// <summary>Kinds of journal records. Values are on disk: never renumber, only add.</summary>
internal enum RecordKind : byte
{
    MessageAppended = 1,
    MemberAdded = 2,
    MemberRemoved = 3,
    PendingEnqueued = 4,
    PendingAcked = 5,
    ReadMarked = 6,
}
