namespace ChatGateway.Storage;

public enum WriteStatus
{
    /// <summary>Written (and durable, in Commit mode).</summary>
    Ok,
    /// <summary>The sender's client message id was seen within the dedupe window: Conversation/Seq/Timestamp are the original's.</summary>
    Duplicate,
    /// <summary>The user is not a member of the conversation: nothing was written.</summary>
    NotMember,
    /// <summary>The user was already a member: nothing was written.</summary>
    AlreadyMember,
    /// <summary>The change was already in effect (a pending entry already covering the seq, an ack behind the queue head).</summary>
    NoChange,
    /// <summary>Create: the conversation id is taken (it has members or messages): nothing was written.</summary>
    Exists,
}

/// <summary>Outcome of a journaled write. <paramref name="Created"/>: a direct message's append created its conversation first.</summary>
public readonly record struct WriteResult(WriteStatus Status, long Conversation = 0, long Seq = 0, long Timestamp = 0, bool Created = false);
