using System.Runtime.InteropServices;
using ChatGateway.LoadTest.Targets;
using ChatGateway.WebSockets.Transport;

namespace ChatGateway.LoadTest.Client;

/// <summary>
/// Receives for many connections on the caller's thread: <see cref="Poll"/> waits on one epoll set, at most a given
/// number of nanoseconds, and reads whichever sockets have input, handing their frames to a <see cref="Wire"/>.
/// <para>
/// Why not a receive loop per connection (<see cref="Scenarios.Workers.ReceiveLoopAsync"/>): at a moderate rate
/// each arrival then wakes the runtime's socket thread and a pool thread, so at 20,000 msgs/s over 200 connections
/// the generator spent 70–93% of its core switching threads, and its own queueing showed in every server's
/// latency. Why on the caller's thread rather than one of its own: see <see cref="Scenarios.RateWorker"/>.
/// </para>
/// </summary>
internal sealed unsafe class ReceivePoller : IDisposable
{
    // Sockets read per wait: the caller's sends due meanwhile wait at most this many reads (a burst of deliveries
    // after a server's stall can make 200 sockets ready at once; level-triggered, the rest come with the next wait).
    private const int EventsPerWait = 16;

    private readonly int _epoll;
    private readonly Wire _wire;
    private readonly List<(LoadConnection Connection, IInbound Inbound)> _connections = [];
    private readonly Epoll.Event* _events = (Epoll.Event*)NativeMemory.Alloc(EventsPerWait, (nuint)sizeof(Epoll.Event));

    public ReceivePoller(Wire wire)
    {
        if (!Epoll.Supported)
        {
            throw new PlatformNotSupportedException("the load generator's receive poller needs epoll (Linux on x86-64)");
        }
        _wire = wire;
        _epoll = Epoll.Create(Epoll.CloseOnExec);
        if (_epoll < 0)
        {
            throw new IOException("epoll_create1 failed");
        }
    }

    /// <summary>Adds a connection; frames already buffered behind its handshake are read now.</summary>
    public void Add(LoadConnection connection, IInbound inbound)
    {
        connection.ReadBuffered(_wire, inbound);
        var watched = new Epoll.Event { Events = Epoll.In, Data = (ulong)_connections.Count }; // level-triggered
        if (Epoll.Control(_epoll, Epoll.CtlAdd, (int)connection.Socket.SafeHandle.DangerousGetHandle(), &watched) != 0)
        {
            throw new IOException("epoll_ctl(ADD) failed");
        }
        _connections.Add((connection, inbound));
    }

    /// <summary>
    /// Waits until a connection has input or <paramref name="timeoutNanoseconds"/> passed (0: only what is there now),
    /// and reads every connection that has some. Returns how many had.
    /// </summary>
    public int Poll(long timeoutNanoseconds)
    {
        // epoll_pwait2 (Linux 5.11): epoll_wait's timeout is in milliseconds, and the pacer's next message is due in
        // tens of microseconds.
        var timeout = new TimeSpec { Seconds = timeoutNanoseconds / 1_000_000_000, Nanoseconds = timeoutNanoseconds % 1_000_000_000 };
        int count = WaitPrecise(_epoll, _events, EventsPerWait, &timeout, null);
        for (int i = 0; i < count; i++)
        {
            int index = (int)_events[i].Data;
            (LoadConnection connection, IInbound inbound) = _connections[index];
            bool open;
            try
            {
                open = connection.ReceiveAvailable(_wire, inbound);
            }
            catch (ObjectDisposedException)
            {
                open = false;
            }
            if (!open)
            {
                Epoll.Control(_epoll, Epoll.CtlDel, (int)connection.Socket.SafeHandle.DangerousGetHandle(), null);
            }
        }
        return Math.Max(count, 0);
    }

    public void Dispose()
    {
        Epoll.Close(_epoll);
        NativeMemory.Free(_events);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "epoll_pwait2", SetLastError = true)]
    private static extern int WaitPrecise(int epoll, Epoll.Event* events, int maxEvents, TimeSpec* timeout, void* signalMask);
}
