using System.Reflection;
using System.Runtime.CompilerServices;
using FASTER.core;

namespace ChatGateway.Storage.Memory;

/// <summary>
/// Keeps a FASTER log's spare-page pool stocked with pages already in memory, until every page of its in-memory
/// buffer is allocated (<see cref="StoreOptions.PrefaultLogPages"/>).
/// <para>
/// Why: FASTER allocates a log page the first time the log's tail reaches its place in the buffer, on the thread that
/// appends: a 1 MiB pinned array, cleared, and 256 page faults as the clear first touches it. On our test machine
/// that stalled the store's writer ~2.8 ms per page, five times a second at 20,000 msgs/s (journal and index), for
/// as long as the buffers took to fill (~18 s for the default 64 MiB journal at that rate, minutes for the index):
/// every stall held up every message behind it. FASTER takes a page from its spare-page pool before it allocates
/// one, and nothing else uses that pool here (it is filled only by freed pages, which a log whose buffer is never
/// resized does not free), so this thread fills it ahead of the tail: the same work, off the writer's path.
/// </para>
/// <para>
/// Faulting a page in is done 64 KiB at a time with a yield between: on a machine of one core, a thread woken
/// meanwhile (the reader of new input) waits for one chunk (~0.4 ms), not a page. Once every page of the buffer is
/// allocated FASTER never allocates again and the stock stops. Bound: at most <see cref="PoolCapacity"/> spare pages
/// (FASTER's pool holds no more), and never more than the buffer still lacks, so the log's memory stays within its
/// configured size; on an idle store that is up to four pages taken ahead of need. They go with the log when it is
/// disposed.
/// </para>
/// <para>
/// FASTER 2.6.5 does not expose the pool, so it is reached through reflection: its allocator's
/// <c>overflowPagePool</c> and <c>PageUnit</c>, whose allocation this repeats (size and sector alignment). The
/// version is pinned (Directory.Packages.props); should the members move, <see cref="TryStart"/> returns null (the
/// log then allocates as FASTER does) and <c>LogPageStockTests</c> fail.
/// </para>
/// </summary>
internal sealed class LogPageStock : IDisposable
{
    /// <summary>The capacity of FASTER's spare-page pool (<c>OverflowPool</c>, 4 in 2.6.5).</summary>
    public const int PoolCapacity = 4;

    private const int TouchChunkBytes = 64 * 1024;
    private static readonly TimeSpan FastCheck = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan SlowestCheck = TimeSpan.FromSeconds(1);
    private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    private readonly object _allocator;
    private readonly object _pool;
    private readonly PropertyInfo _poolCount;
    private readonly MethodInfo _poolAdd;
    private readonly Type _pageUnit;
    private readonly FieldInfo _unitValue;
    private readonly FieldInfo _unitPointer;
    private readonly FieldInfo _allocatedPages;
    private readonly int _bufferPages;
    private readonly int _pageBytes;
    private readonly int _sectorBytes;
    private readonly ManualResetEventSlim _stop = new();
    private readonly Thread _thread;
    private int _stocked;

    private LogPageStock(object allocator, object pool, PropertyInfo poolCount, MethodInfo poolAdd, Type pageUnit, FieldInfo unitValue,
        FieldInfo unitPointer, FieldInfo allocatedPages, int bufferPages, int pageBytes, int sectorBytes, string name)
    {
        (_allocator, _pool, _poolCount, _poolAdd, _pageUnit, _unitValue, _unitPointer) = (allocator, pool, poolCount, poolAdd, pageUnit, unitValue, unitPointer);
        (_allocatedPages, _bufferPages, _pageBytes, _sectorBytes) = (allocatedPages, bufferPages, pageBytes, sectorBytes);
        _thread = new Thread(Run) { IsBackground = true, Name = $"ChatGateway {name} pages" };
        _thread.Start();
    }

    /// <summary>Spare pages added to the pool so far.</summary>
    public int Stocked => Volatile.Read(ref _stocked);

    /// <summary>Spare pages in the pool now, waiting for the log's tail.</summary>
    public int Available => (int)_poolCount.GetValue(_pool)!;

    /// <summary>The thread has stopped: every page of the buffer is allocated (FASTER allocates no more), or the stock was disposed.</summary>
    public bool Finished => !_thread.IsAlive;

    /// <summary>A stock for the journal's log; null if FASTER's internals are not where expected.</summary>
    public static LogPageStock? TryStart(FasterLog log, string name) =>
        typeof(FasterLog).GetField("allocator", Instance)?.GetValue(log) is { } allocator ? TryStart(allocator, name) : null;

    /// <summary>A stock for the index's hybrid log; null if FASTER's internals are not where expected.</summary>
    public static LogPageStock? TryStart<TKey, TValue>(FasterKV<TKey, TValue> kv, string name) =>
        typeof(FasterKV<TKey, TValue>).GetField("hlog", Instance)?.GetValue(kv) is { } allocator ? TryStart(allocator, name) : null;

    private static LogPageStock? TryStart(object allocator, string name)
    {
        Type type = allocator.GetType();
        if (Field(type, "overflowPagePool")?.GetValue(allocator) is not { } pool
            || pool.GetType().GetProperty("Count", Instance) is not { } count
            || pool.GetType().GetMethod("TryAdd", Instance) is not { } add
            || add.GetParameters() is not [{ ParameterType: { IsValueType: true } pageUnit }]
            || pageUnit.GetField("value", Instance) is not { } value || value.FieldType != typeof(byte[])
            || pageUnit.GetField("pointer", Instance) is not { } pointer || pointer.FieldType != typeof(long)
            || Field(type, "AllocatedPageCount") is not { } allocated
            || Field(type, "BufferSize")?.GetValue(allocator) is not int bufferPages
            || Field(type, "PageSize")?.GetValue(allocator) is not int pageBytes
            || Field(type, "sectorSize")?.GetValue(allocator) is not int sectorBytes)
        {
            return null;
        }
        return new LogPageStock(allocator, pool, count, add, pageUnit, value, pointer, allocated, bufferPages, pageBytes, sectorBytes, name);
    }

    private static FieldInfo? Field(Type? type, string name)
    {
        for (; type is not null; type = type.BaseType)
        {
            if (type.GetField(name, Instance | BindingFlags.DeclaredOnly) is { } field)
            {
                return field;
            }
        }
        return null;
    }

    private void Run()
    {
        TimeSpan wait = FastCheck;
        while (!_stop.IsSet)
        {
            int unallocated = _bufferPages - (int)_allocatedPages.GetValue(_allocator)!;
            if (unallocated <= 0)
            {
                return; // every slot holds a page: FASTER reuses them from now on
            }
            if (Available < Math.Min(PoolCapacity, unallocated))
            {
                if (!TryAddPage())
                {
                    if (_stop.IsSet || Available < PoolCapacity)
                    {
                        return; // stopping, or the pool was disposed with its log
                    }
                    continue; // full after all: FASTER put freed pages in it meanwhile (a reset)
                }
                wait = FastCheck; // the tail is moving: check again soon
                continue;
            }
            _stop.Wait(wait);
            wait = wait < SlowestCheck ? wait * 2 : SlowestCheck; // an idle log is checked once a second
        }
    }

    /// <summary>Allocates a page as FASTER would (pinned, sector-aligned inside), faults it in, and gives it to the pool.</summary>
    private unsafe bool TryAddPage()
    {
        int length = _pageBytes + 2 * _sectorBytes;
        byte[] page = GC.AllocateArray<byte>(length, pinned: true);
        int osPage = Environment.SystemPageSize; // 4 KiB on x86-64, up to 64 KiB on ARM64
        for (int offset = 0; offset < length; offset += osPage)
        {
            Volatile.Write(ref page[offset], 0); // the first write maps the (zeroed) page: FASTER takes pool pages as cleared
            if (offset % TouchChunkBytes == TouchChunkBytes - osPage)
            {
                if (_stop.IsSet)
                {
                    return false;
                }
                Thread.Yield();
            }
        }
        long start = (long)Unsafe.AsPointer(ref page[0]);
        object unit = Activator.CreateInstance(_pageUnit)!;
        _unitValue.SetValue(unit, page);
        _unitPointer.SetValue(unit, (start + (_sectorBytes - 1)) & ~((long)_sectorBytes - 1));
        if (!(bool)_poolAdd.Invoke(_pool, [unit])!)
        {
            return false;
        }
        Interlocked.Increment(ref _stocked);
        return true;
    }

    /// <summary>Stops the thread; call before the log is disposed.</summary>
    public void Dispose()
    {
        _stop.Set();
        _thread.Join();
        _stop.Dispose();
    }
}
