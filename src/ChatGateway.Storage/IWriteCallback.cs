namespace ChatGateway.Storage;

/// <summary>
/// Receives the outcome of a write submitted with a callback (<see cref="ChatStore.TryAppendMessage"/> and its
/// siblings) instead of an awaitable. Called on the store's writer, once the write's batch is durable (Commit
/// mode) or acknowledged (Relaxed mode), in the order the writer decided the writes: for one conversation, the
/// order of its sequence numbers. A caller that acts on each outcome (acknowledge, fan out) gets that order
/// without a loop of its own awaiting results one by one, and without a hand-off to another thread.
/// <para>
/// The next batch waits while a callback runs: it must be short and must never block or wait. An exception it
/// throws is logged and does not stop the store.
/// </para>
/// </summary>
public interface IWriteCallback
{
    /// <summary>The write was decided (and is durable in Commit mode). Runs on the writer.</summary>
    void Written(in WriteResult result);

    /// <summary>
    /// Nothing was written, or it is not known to be (the store stopped after an I/O failure, its disk is full, or it
    /// closed first). Runs on the writer, or on the submitting thread when the store had already stopped.
    /// </summary>
    void Failed(Exception error);
}
