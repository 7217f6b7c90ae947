namespace ChatGateway.WebSockets.Connections;

/// <summary>
/// Lets one writer at a time at a connection's output, held inside the connection as a field: a state word, and a
/// queue of waiters created the first time two writers meet. It replaces a <see cref="SemaphoreSlim"/>, which cost
/// every connection 88 bytes (the semaphore and its lock object) though almost every write finds the output free:
/// writes come from the session's one drain at a time, and only pongs, keep-alive pings and the close meet it.
/// <para>
/// Uncontended, entering and leaving are one compare-exchange each. A writer that finds the gate held queues a
/// completion source and waits for it; the leaving writer hands the gate to the oldest waiter still waiting (first
/// come, first served). The queue and the handover are guarded by a monitor on the owning connection
/// (<c>sync</c>), taken only when writers meet. Bound: one waiter per writer; a connection has a handful (the
/// drain, the read loop's pong, the sweeper's ping, a close).
/// </para>
/// </summary>
internal struct WriteGate
{
    private const int Free = 0;
    private const int Held = 1;
    private const int HeldWithWaiters = 2;

    private int _state;
    private Queue<TaskCompletionSource>? _waiters;

    /// <summary>Takes the gate if it is free; false: call <see cref="EnterOrQueue"/>.</summary>
    public bool TryEnter() => Interlocked.CompareExchange(ref _state, Held, Free) == Free;

    /// <summary>Takes the gate (null) or queues the caller, who holds it once the returned source completes.</summary>
    public TaskCompletionSource? EnterOrQueue(object sync)
    {
        lock (sync)
        {
            while (true)
            {
                int state = Volatile.Read(ref _state);
                if (state == Free)
                {
                    if (Interlocked.CompareExchange(ref _state, Held, Free) == Free)
                    {
                        return null;
                    }
                }
                else if (state == HeldWithWaiters || Interlocked.CompareExchange(ref _state, HeldWithWaiters, Held) == Held)
                {
                    // From here the holder's Exit cannot free the gate without the monitor, so it sees this waiter.
                    var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    (_waiters ??= new Queue<TaskCompletionSource>()).Enqueue(waiter);
                    return waiter;
                }
                // The holder left between the read and the exchange: look again.
            }
        }
    }

    /// <summary>Leaves the gate: to the oldest waiter still waiting, or free.</summary>
    public void Exit(object sync)
    {
        if (Interlocked.CompareExchange(ref _state, Free, Held) == Held)
        {
            return; // nobody waits
        }
        lock (sync)
        {
            while (_waiters!.TryDequeue(out TaskCompletionSource? next))
            {
                Volatile.Write(ref _state, _waiters.Count == 0 ? Held : HeldWithWaiters);
                if (next.TrySetResult())
                {
                    return; // handed over: the gate stays held, by next
                }
                // That waiter gave up (Abandon): try the one after it.
            }
            Volatile.Write(ref _state, Free);
        }
    }

    /// <summary>
    /// A queued writer stops waiting (it timed out). True when the gate was handed to it meanwhile: it holds the gate
    /// and must <see cref="Exit"/>. False: it never will; <see cref="Exit"/> skips its place in the queue.
    /// </summary>
    public bool Abandon(TaskCompletionSource waiter, object sync)
    {
        lock (sync)
        {
            return !waiter.TrySetCanceled();
        }
    }
}
