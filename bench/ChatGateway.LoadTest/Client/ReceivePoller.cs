using ChatGateway.LoadTest.Targets;
using ChatGateway.WebSockets.Transport;

namespace ChatGateway.LoadTest.Client;

/// <summary>
/// One thread receiving for many connections: it waits on one epoll set and reads whichever sockets have input,
/// handing their frames to a <see cref="Wire"/>.
/// <para>
/// Why not a receive loop per connection (<see cref="Scenarios.Workers.ReceiveLoopAsync"/>): at a moderate rate
/// each arrival then wakes the runtime's socket thread and a pool thread, so at 20,000 msgs/s over 200 connections
/// the generator spent 70–93% of its core switching threads, and its own queueing showed in every server's
/// latency. Used by the `rate` scenario, where the generator's delay is part of the figure.
/// </para>
/// </summary>
internal sealed unsafe class ReceivePoller : IDisposable
{
    private const int EventsPerWait = 256;

    private readonly int _epoll;
    private readonly Wire _wire;
    private readonly List<(LoadConnection Connection, IInbound Inbound)> _connections = [];
    private Thread? _thread;
    private volatile bool _stopping;

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

    /// <summary>Adds a connection (before <see cref="Start"/>); frames already buffered behind its handshake are read now.</summary>
    public void Add(LoadConnection connection, IInbound inbound)
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("add every connection before starting");
        }
        connection.ReadBuffered(_wire, inbound);
        var watched = new Epoll.Event { Events = Epoll.In, Data = (ulong)_connections.Count }; // level-triggered
        if (Epoll.Control(_epoll, Epoll.CtlAdd, (int)connection.Socket.SafeHandle.DangerousGetHandle(), &watched) != 0)
        {
            throw new IOException("epoll_ctl(ADD) failed");
        }
        _connections.Add((connection, inbound));
    }

    public void Start()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "receive poller" };
        _thread.Start();
    }

    private void Run()
    {
        Epoll.Event* events = stackalloc Epoll.Event[EventsPerWait];
        while (!_stopping)
        {
            int count = Epoll.Wait(_epoll, events, EventsPerWait, 100); // wakes now and then to see _stopping
            for (int i = 0; i < count; i++)
            {
                int index = (int)events[i].Data;
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
        }
    }

    /// <summary>Stops the thread (within ~100 ms); the connections stay open.</summary>
    public void Dispose()
    {
        _stopping = true;
        _thread?.Join();
        Epoll.Close(_epoll);
    }
}
