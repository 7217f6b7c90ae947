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
    /// <summary>Several users join a conversation (<see cref="WriteCommand.Members"/>); those already in are left out.</summary>
    AddMembers,
    /// <summary>Several users leave a conversation (<see cref="WriteCommand.Members"/>); those not in it are left out.</summary>
    RemoveMembers,
    /// <summary>Not a write: completes once every command queued before it has been completed.</summary>
    Barrier,
    /// <summary>Not a write: asks the writer to checkpoint now, between batches.</summary>
    Checkpoint,
    /// <summary>Not a write: a timer tick (relaxed commits, periodic checkpoints) for an otherwise idle writer.</summary>
    Tick,
}
