using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace ChatGateway.WebSockets.Transport;

/// <summary>What a <see cref="ReadinessPoller"/> tells about one registered socket.</summary>
internal interface IReadinessTarget
{
    /// <summary>
    /// Bytes, the end of input or an error arrived (edge-triggered: once per arrival, not per wait). Runs on the
    /// poller's thread. <paramref name="mayHandleHere"/>: few sockets reported input in the same wait, so handling it
    /// here, now, holds up little input that has already arrived, or the process has one core, where no other thread
    /// would handle it sooner (<see cref="ReadinessPoller.ReportsHandledHereOn"/>).
    /// </summary>
    void OnReady(bool mayHandleHere);

    /// <summary><see cref="OnReady"/> threw: a bug, reported to the connection instead of ending the poller's thread.</summary>
    void OnReadyFailed(Exception error);
}

/// <summary>
/// One epoll instance and one thread telling registered sockets when they have something to read: the readiness
/// wait of <see cref="SocketPipeReader"/>.
/// <para>
/// Why not a zero-byte <see cref="Socket.ReceiveAsync(SocketAsyncEventArgs)"/> per idle connection: it keeps a
/// <see cref="SocketAsyncEventArgs"/> (~240 B), the runtime's pending receive operation and its callback
/// (~190 B) and the socket's <c>SocketAsyncContext</c> (~150 B) alive for every idle connection, and costs a
/// receive system call each time it starts (the attempt that finds nothing). Here a registered socket costs a
/// slot in the table below, and a wait costs no system call: each socket is registered once, edge-triggered, and
/// the reader keeps the edge it has not yet consumed (<see cref="SocketPipeReader"/>).
/// </para>
/// <para>
/// Bound: one slot per registered socket, at most one per open file; freed slots are reused first. A slot's
/// generation travels in the event's data, so an event dequeued for a socket already unregistered (and its slot
/// taken by another) is dropped rather than delivered to the wrong connection.
/// </para>
/// </summary>
internal sealed unsafe class ReadinessPoller
{
    private const int EventsPerWait = 256;

    /// <summary>
    /// With more than one core, a wait that reports at most this many sockets lets their targets handle their input
    /// here, in turn; more at once is a busy node, whose input goes to the pool to use every core. At 20,000 msgs/s
    /// from 100 clients most waits report one to four sockets (reports from a load generator's timer ticks come in
    /// small clumps): allowing only lone reports left 268,394 context switches in 5 s, against 42,908 with up to four
    /// (docs/benchmarks.md, session 19). On one core see <see cref="ReportsHandledHereOn"/>.
    /// </summary>
    public const int MaxReportsHandledHere = 4;

    private readonly int _reportsHandledHere;

    [ThreadStatic]
    private static bool t_isPollerThread;

    /// <summary>True on a poller's thread (a target handling input there: see <see cref="IReadinessTarget.OnReady"/>).</summary>
    public static bool IsPollerThread => t_isPollerThread;

    private static readonly Lazy<ReadinessPoller?> s_shared = new(() => TryStart());

    private readonly int _epoll;
    private readonly Lock _lock = new();
    private readonly Stack<int> _free = new();
    private Slot[] _slots = new Slot[256];
    private int _used;
    private long _reports;

    private ReadinessPoller(int epoll, int reportsHandledHere)
    {
        _epoll = epoll;
        _reportsHandledHere = reportsHandledHere;
        var thread = new Thread(Run) { IsBackground = true, Name = "ChatGateway readiness poller" };
        thread.Start();
    }

    /// <summary>The process's poller, started on first use; null where epoll is not available (the caller then waits with a zero-byte receive).</summary>
    public static ReadinessPoller? Shared => s_shared.Value;

    /// <summary>Reports delivered to targets so far.</summary>
    public long Reports => Volatile.Read(ref _reports);

    /// <summary>Slots in use: registered sockets not yet unregistered.</summary>
    public int Registered
    {
        get
        {
            lock (_lock)
            {
                return _used - _free.Count;
            }
        }
    }

    /// <summary>Slots ever taken: the most sockets registered at once, since freed slots are reused first.</summary>
    public int Slots
    {
        get
        {
            lock (_lock)
            {
                return _used;
            }
        }
    }

    /// <summary>
    /// A poller of its own (the gateway uses <see cref="Shared"/>), or null where epoll is not available. Its thread
    /// lives as long as the process, like the runtime's own socket engine. <paramref name="processorCount"/>: the cores
    /// the process may use (<see cref="Environment.ProcessorCount"/>, which follows its affinity and CPU quota).
    /// </summary>
    public static ReadinessPoller? TryStart(int? processorCount = null)
    {
        if (!Epoll.Supported)
        {
            return null;
        }
        int epoll = Epoll.Create(Epoll.CloseOnExec);
        return epoll < 0 ? null : new ReadinessPoller(epoll, ReportsHandledHereOn(processorCount ?? Environment.ProcessorCount));
    }

    /// <summary>
    /// How many sockets one wait may report for their targets still to be told they may handle their input here:
    /// <see cref="MaxReportsHandledHere"/>, or on a single core all of them. There the pool runs on the same core
    /// as this thread, so handing input to it uses no other core; it only adds a context switch per hand-off and lets
    /// the scheduler's time slices (milliseconds) interleave the connections' work instead of running it in turn.
    /// Pinned to one core at 20,000 msgs/s, 45% of the server's samples had been on pool threads, one of which waited
    /// up to 14.6 ms to run; handled here, p99 3.98–7.13 ms against 6.21–14.92 ms, interleaved (docs/benchmarks.md,
    /// session 24).
    /// </summary>
    public static int ReportsHandledHereOn(int processorCount) => processorCount == 1 ? EventsPerWait : MaxReportsHandledHere;

    /// <summary>
    /// Watches <paramref name="socket"/> for input until <see cref="Unregister"/>; false if the kernel refused (the
    /// caller then waits with a zero-byte receive). If bytes are already waiting, the target hears of it at once.
    /// </summary>
    public bool TryRegister(SafeSocketHandle socket, IReadinessTarget target, out long token)
    {
        int slot;
        uint generation;
        lock (_lock)
        {
            if (!_free.TryPop(out slot))
            {
                slot = _used++;
                if (slot == _slots.Length)
                {
                    Slot[] larger = new Slot[_slots.Length * 2];
                    _slots.CopyTo(larger, 0);
                    Volatile.Write(ref _slots, larger); // the poller's thread reads the table without the lock
                }
                _slots[slot] = new Slot();
            }
            Slot entry = _slots[slot];
            generation = entry.Generation;
            Volatile.Write(ref entry.Target, target);
        }
        token = (long)generation << 32 | (uint)slot;
        Epoll.Event watched = new()
        {
            Events = Epoll.In | Epoll.RdHup | Epoll.EdgeTriggered,
            Data = (ulong)token,
        };
        if (Epoll.Control(_epoll, Epoll.CtlAdd, (int)socket.DangerousGetHandle(), &watched) != 0)
        {
            Release(slot); // ENOSPC past fs.epoll.max_user_watches, ENOMEM
            return false;
        }
        return true;
    }

    /// <summary>
    /// From now on the target of registration <paramref name="token"/> may be told that it may handle its input on
    /// this poller's thread (<see cref="IReadinessTarget.OnReady"/>); until then it is always told not to. Kept in the
    /// socket's slot, whose padding has room for it, rather than in the target: no byte more per connection.
    /// </summary>
    public void AllowHandlingHere(long token)
    {
        lock (_lock)
        {
            Slot entry = _slots[(int)token];
            if (entry.Generation == (uint)(token >> 32))
            {
                Volatile.Write(ref entry.HandleHere, true); // read by the poller's thread without the lock
            }
        }
    }

    /// <summary>Stops watching; call before the socket is closed. The target hears nothing more of it.</summary>
    public void Unregister(SafeSocketHandle socket, long token)
    {
        // Removing a descriptor already closed fails (EBADF): closing it removed it from the set already.
        Epoll.Control(_epoll, Epoll.CtlDel, (int)socket.DangerousGetHandle(), null);
        Release((int)token);
    }

    private void Release(int slot)
    {
        lock (_lock)
        {
            Slot entry = _slots[slot];
            Volatile.Write(ref entry.Target, null);
            entry.HandleHere = false;
            entry.Generation++; // events still queued for the old registration no longer match
            _free.Push(slot);
        }
    }

    private void Run()
    {
        t_isPollerThread = true;
        Epoll.Event* events = stackalloc Epoll.Event[EventsPerWait];
        while (true)
        {
            int count = Epoll.Wait(_epoll, events, EventsPerWait, -1);
            if (count < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.Interrupted)
                {
                    continue;
                }
                throw new SocketException(errno, $"epoll_wait failed with errno {errno}"); // the set itself is broken: nothing can be read any more
            }
            for (int i = 0; i < count; i++)
            {
                ulong data = events[i].Data;
                int slot = (int)(uint)data;
                uint generation = (uint)(data >> 32);
                // Read after the wait: a registration grows the table before it adds its socket to the set.
                Slot[] slots = Volatile.Read(ref _slots);
                if ((uint)slot >= (uint)slots.Length || slots[slot] is not { } entry)
                {
                    continue;
                }
                IReadinessTarget? target = Volatile.Read(ref entry.Target);
                if (target is null || Volatile.Read(ref entry.Generation) != generation)
                {
                    continue; // unregistered since
                }
                Volatile.Write(ref _reports, _reports + 1); // this thread alone writes it
                try
                {
                    target.OnReady(mayHandleHere: count <= _reportsHandledHere && Volatile.Read(ref entry.HandleHere));
                }
                catch (Exception ex)
                {
                    target.OnReadyFailed(ex);
                }
            }
        }
    }

    /// <summary>A table entry, kept and reused with its slot.</summary>
    private sealed class Slot
    {
        public IReadinessTarget? Target;
        public uint Generation;
        public bool HandleHere; // AllowHandlingHere; fits in the object's padding (28 bytes of fields and header → 32)
    }
}
