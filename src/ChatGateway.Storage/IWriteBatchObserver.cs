namespace ChatGateway.Storage;

/// <summary>
/// Told by the store's writer when it starts and ends telling a batch's callbacks (<see cref="IWriteCallback"/>) their
/// outcomes, on the writer's thread, with no await in between. A caller whose callbacks produce work per outcome (a
/// sequencer queueing acks and Delivers on many sessions) can gather that work over the whole batch and do it once at
/// the end, on the writer, instead of handing each piece to another thread. Set with
/// <see cref="ChatStore.ObserveBatches"/>. Like the callbacks, both calls hold up the next batch: keep them short.
/// </summary>
public interface IWriteBatchObserver
{
    /// <summary>The writer is about to call the batch's callbacks.</summary>
    void OutcomesStarting();

    /// <summary>The writer has called every callback of the batch (also when one of them threw).</summary>
    void OutcomesTold();
}
