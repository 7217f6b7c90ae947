namespace ChatGateway.WebSockets.Timeouts;

/// <summary>
/// One timer for every connection's deadlines (handshake, idle, keep-alive ping, close), instead of a
/// timer per connection: each tick walks a slot array and lets each registered item compare its own
/// timestamps with now. At 20,000 connections and a 1 s tick that is 20,000 cheap calls a second, and
/// each connection pays one slot (8 bytes) instead of a timer and a CancellationTokenSource.
/// Deadlines are therefore accurate to one resolution.
/// <para>Bound: one slot per registered item; the array grows by doubling and slots are reused.</para>
/// </summary>
public sealed class ConnectionSweeper : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly PeriodicTimer _timer;
    private readonly Task _loop;
    private ISweepable?[] _slots = new ISweepable?[256];
    private int _highWater;          // slots at and above this index were never used
    private readonly Stack<int> _free = new();
    private int _count;

    public ConnectionSweeper(TimeProvider time, TimeSpan resolution)
    {
        _time = time;
        _timer = new PeriodicTimer(resolution, time);
        _loop = RunAsync();
    }

    public TimeProvider Time => _time;

    /// <summary>Items currently registered.</summary>
    public int Count => Volatile.Read(ref _count);

    public int Register(ISweepable item)
    {
        lock (_lock)
        {
            int slot;
            if (_free.Count > 0)
            {
                slot = _free.Pop();
            }
            else
            {
                if (_highWater == _slots.Length)
                {
                    Array.Resize(ref _slots, _slots.Length * 2);
                }
                slot = _highWater++;
            }
            Volatile.Write(ref _slots[slot], item);
            _count++;
            return slot;
        }
    }

    public void Unregister(int slot)
    {
        lock (_lock)
        {
            if (_slots[slot] is null)
            {
                return;
            }
            Volatile.Write(ref _slots[slot], null);
            _free.Push(slot);
            _count--;
        }
    }

    /// <summary>Runs one pass now. The timer calls this; tests with a fake clock may too.</summary>
    public void Sweep()
    {
        long now = _time.GetTimestamp();
        ISweepable?[] slots;
        int highWater;
        lock (_lock)
        {
            slots = _slots;
            highWater = _highWater;
        }
        for (int i = 0; i < highWater; i++)
        {
            Volatile.Read(ref slots[i])?.OnSweep(now);
        }
    }

    private async Task RunAsync()
    {
        try
        {
            while (await _timer.WaitForNextTickAsync().ConfigureAwait(false))
            {
                Sweep();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _timer.Dispose();
        await _loop.ConfigureAwait(false);
    }
}
