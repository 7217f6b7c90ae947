namespace ChatGateway.Storage.Writing;

internal enum WriteKind : byte
{
    AppendMessage,
    AddMember,
    RemoveMember,
    EnqueuePending,
    AckPending,
    CreateConversation,
    MarkRead,
    /// <summary>Not a write: asks the writer to checkpoint now, between batches.</summary>
    Checkpoint,
    /// <summary>Not a write: a timer tick (relaxed commits, periodic checkpoints) for an otherwise idle writer.</summary>
    Tick,
}
