using System.Runtime.InteropServices;
using FASTER.core;

namespace ChatGateway.Storage.Disk;

/// <summary>
/// A FASTER log's segment files ({name}.0, {name}.1, ... as FASTER's own device names them), written with
/// O_DIRECT | O_DSYNC into segments that are zero-filled ahead of the tail, by one I/O thread in submission order.
/// The journal and the index's hybrid log both use it on Linux, and the index's checkpoint files without the
/// zero fill (<see cref="CheckpointDeviceFactory"/>).
/// <para>
/// Why not FASTER's default device: on Linux it opens files with O_SYNC and lets them grow with every write, so
/// each commit also journals the file's new size and modification time (a second device flush), and every byte
/// is copied twice on the way (into a pooled buffer, then into the page cache). Measured on this machine's disk
/// (300 writes each, docs/benchmarks.md): 4 KiB p50 165 → 88 µs, 896 KiB p50 674 → 347 µs, kernel CPU per
/// 896 KiB write 233 → 100 µs. The page-cache copy was 31% of the store writer's CPU at 256-message batches
/// (perf, kernel copy_folio_from_iter_atomic); without it, appends per CPU-second rose ~35%. A zero-filled region
/// past the tail reads exactly like FASTER's own preallocated (sparse) segments.
/// </para>
/// <para>
/// Zeros are written in the background 8 MiB ahead of the last write (and into the next segment once a segment
/// is half written), so the write path almost never waits for them and a small store fills 8 MiB, not whole
/// segments. A write that gets past the zeros waits for the fill in progress. Reads (recovery, cold index
/// records) run on reader threads of their own, several at a time (<see cref="ReadAsync"/>). Only Linux on x64/arm64 uses this device
/// (<see cref="DirectFile.IsSupported"/>); elsewhere FASTER's default device is used.
/// </para>
/// </summary>
internal sealed unsafe class SegmentDevice : StorageDeviceBase
{
    /// <summary>FASTER aligns every write and read to this; O_DIRECT needs the disk's logical block size (512 here and on most disks).</summary>
    private const uint Sector = 512;
    private const int FillChunk = 1 << 20;
    /// <summary>How far zeros run ahead of the last write: ~55k 100-byte messages, and all a small store ever fills.</summary>
    private const long FillAhead = 8L << 20;

    private readonly Dictionary<int, Segment> _segments = [];
    // Unbounded as a type, bounded by FASTER: a log never has more writes in flight than pages in its memory
    // (64 for the journal, 256 for the index by default), nor more reads than its sessions have pending operations.
    // Guarded by its own monitor, which the I/O thread also waits on when it is empty. Not a SemaphoreSlim: its
    // Wait spins with sched_yield before it sleeps, and with two I/O threads (journal, index) that spinning was 5%
    // of the CPU in the one-shard sequencer benchmark, taken from the writer on a 2-core machine.
    private readonly Queue<Request> _requests = new();
    // Reads, for the reader threads (ReadAsync); bounded like _requests, by FASTER's pending operations.
    private readonly Queue<Request> _reads = new();
    private Thread[]? _readers;
    // Cold round-robin writes over 500k conversations (format 4, bench/results/micro-chat.md): 4 readers 12.1k msgs/s,
    // 8 readers 18.1k, 16 readers 20.5k. Eight: most of the gain, half the threads of sixteen.
    private const int ReaderThreads = 8;
    private readonly Thread _thread;
    private readonly TaskCompletionSource<IOException> _writeFailure = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    /// <summary>Tests only: when not 0, every write fails with this errno without reaching the file.</summary>
    internal volatile int InjectedWriteError;

    /// <summary>
    /// Completes with the first failed write. FASTER 2.6.5 does not surface a failed page flush of a FasterKV log:
    /// the page never counts as flushed and whatever waits for it (a checkpoint, a full log) waits forever. The
    /// store watches this instead and stops with a clear error.
    /// </summary>
    public Task<IOException> WriteFailure => _writeFailure.Task;

    /// <summary>
    /// Called with the first failed write, on the writing thread, before FASTER hears of the write's end. Whoever
    /// watches several devices learns of the failure as soon as this device does: a continuation of
    /// <see cref="WriteFailure"/> runs later, on the thread pool, by which time FASTER may have reported the write's
    /// checkpoint complete.
    /// </summary>
    public Action<IOException>? WriteFailed { get; init; }

    private readonly bool _fillAhead;
    private readonly bool _syncEachWrite;

    /// <param name="fileName">The files' common name; segment n is <c>{fileName}.n</c>.</param>
    /// <param name="fillAhead">
    /// Zero-fill ahead of the writes (logs: their appends then overwrite allocated blocks). False for files
    /// written once, front to back, in large writes (checkpoints): zeros would double their bytes.
    /// </param>
    /// <param name="syncEachWrite">
    /// O_DSYNC (logs: a commit is durable when its write returns). False for checkpoint files, which the store
    /// syncs once they are complete: per-write syncs of a 32 MiB hash table held the journal's commits behind them.
    /// </param>
    public SegmentDevice(string fileName, bool fillAhead = true, bool syncEachWrite = true) : base(fileName, Sector, -1)
    {
        _fillAhead = fillAhead;
        _syncEachWrite = syncEachWrite;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(fileName))!);
        _thread = new Thread(Run) { IsBackground = true, Name = "segment I/O " + Path.GetFileName(fileName) };
        _thread.Start();
    }

    private sealed class Segment(int fd, long length)
    {
        public readonly int Fd = fd;
        /// <summary>Bytes [0, FilledTo) hold log data or zeros: writes below it overwrite allocated blocks. I/O thread only.</summary>
        public long FilledTo = length / Sector * Sector;
        /// <summary>The zero fill running ahead of the writes, and where it ends.</summary>
        public Task Filling = Task.CompletedTask;
        public long FillTarget;
    }

    private readonly record struct Request(bool Write, int Segment, ulong Offset, IntPtr Buffer, uint Length,
        DeviceIOCompletionCallback Callback, object Context);

    public override void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite,
        DeviceIOCompletionCallback callback, object context) =>
        Enqueue(new Request(true, segmentId, destinationAddress, sourceAddress, numBytesToWrite, callback, context));

    public override void ReadAsync(int segmentId, ulong sourceAddress, IntPtr destinationAddress, uint readLength,
        DeviceIOCompletionCallback callback, object context)
    {
        lock (_reads)
        {
            _readers ??= StartReaders();
            _reads.Enqueue(new Request(false, segmentId, sourceAddress, destinationAddress, readLength, callback, context));
            Monitor.Pulse(_reads);
        }
    }

    /// <summary>
    /// Reads run on threads of their own, <see cref="ReaderThreads"/> at a time, not behind the writes: FASTER reads
    /// only what it has finished writing (pages below its head address, log records it has committed), so no read
    /// waits for a write in the queue. The store's writer fetches a batch's cold index records together
    /// (<see cref="Writing.StoreWriter"/>); on one thread their reads went to the disk one after another. Started on
    /// the first read: most devices (checkpoint files, a journal) never read after recovery.
    /// </summary>
    private Thread[] StartReaders()
    {
        var readers = new Thread[ReaderThreads];
        for (int i = 0; i < readers.Length; i++)
        {
            readers[i] = new Thread(RunReads) { IsBackground = true, Name = "segment reads " + Path.GetFileName(FileName) };
            readers[i].Start();
        }
        return readers;
    }

    private void RunReads()
    {
        while (Take(_reads, out Request request))
        {
            Execute(request);
        }
    }

    /// <summary>The next request of <paramref name="queue"/>, waiting for one; false once the device stops and the queue is empty.</summary>
    private bool Take(Queue<Request> queue, out Request request)
    {
        lock (queue)
        {
            while (!queue.TryDequeue(out request))
            {
                if (_stopping)
                {
                    return false;
                }
                Monitor.Wait(queue);
            }
            return true;
        }
    }

    private void Enqueue(in Request request)
    {
        lock (_requests)
        {
            _requests.Enqueue(request);
            if (_requests.Count == 1)
            {
                Monitor.Pulse(_requests); // the I/O thread waits only when the queue is empty
            }
        }
    }

    /// <summary>
    /// One thread, requests in submission order: FASTER flushes a page's parts in address order and a commit
    /// record after the data it covers, and O_DSYNC makes each write durable when it returns.
    /// </summary>
    private void Run()
    {
        while (Take(_requests, out Request request))
        {
            Execute(request);
        }
    }

    private void Execute(in Request request)
    {
        uint error = 0;
        uint done = 0;
        try
        {
            if (request.Write && InjectedWriteError != 0)
            {
                error = (uint)InjectedWriteError;
            }
            else
            {
                Segment segment = Open(request.Segment, forWrite: request.Write);
                (error, done) = request.Write
                    ? Write(request.Segment, segment, request.Offset, (byte*)request.Buffer, request.Length)
                    : DirectFile.ReadAll(segment.Fd, request.Offset, (byte*)request.Buffer, request.Length);
            }
        }
        catch (Exception ex) when (ex is IOException or AggregateException)
        {
            error = (uint)(ex.HResult & 0xFFFF);
            error = error == 0 ? 5u : error; // EIO when the exception carries no errno
        }
        if (request.Write && error != 0)
        {
            var failure = new IOException(
                $"writing {FileName}.{request.Segment} at offset {request.Offset} failed: {Marshal.GetPInvokeErrorMessage((int)error)}", (int)error);
            if (_writeFailure.TrySetResult(failure))
            {
                WriteFailed?.Invoke(failure);
            }
        }
        request.Callback(error, done, request.Context);
    }

    /// <summary>
    /// Writes one request. Below the filled mark it overwrites blocks that already exist (no new size or extents
    /// for the filesystem to journal); past it, it first waits for the fill in progress. Then the fill is kept <see cref="FillAhead"/>
    /// ahead, and past half a segment the next one starts filling.
    /// </summary>
    private (uint Error, uint Done) Write(int id, Segment segment, ulong offset, byte* buffer, uint length)
    {
        Settle(segment);
        long end = (long)offset + length;
        if (end > segment.FilledTo)
        {
            segment.Filling.Wait();
            segment.FilledTo = Math.Max(segment.FilledTo, segment.FillTarget);
        }
        (uint error, uint done) = DirectFile.WriteAll(segment.Fd, offset, buffer, length);
        if (error != 0)
        {
            return (error, done);
        }
        segment.FilledTo = Math.Max(segment.FilledTo, end);
        if (!_fillAhead)
        {
            return (0, done);
        }
        Settle(segment); // the fill may have finished during the write
        if (segment.Filling.IsCompleted && segment.FilledTo - end < FillAhead / 2 && segment.FilledTo < SegmentSize)
        {
            StartFill(segment, Math.Min(SegmentSize, end + FillAhead));
        }
        if (end > SegmentSize / 2)
        {
            Open(id + 1, forWrite: true); // starts its fill
        }
        return (0, done);
    }

    /// <summary>
    /// Moves the filled mark to the end of a fill that finished. Without this a new fill started from the old mark
    /// and wrote the same zeros again and again (4x the journal's bytes in a 4 s append benchmark).
    /// </summary>
    private static void Settle(Segment segment)
    {
        if (segment.Filling.IsCompletedSuccessfully)
        {
            segment.FilledTo = Math.Max(segment.FilledTo, segment.FillTarget);
        }
    }

    private void StartFill(Segment segment, long target)
    {
        long from = segment.FilledTo;
        segment.FillTarget = target;
        Interlocked.Add(ref _zerosWritten, target - from);
        // Its own thread, not a pool thread: a fill is eight 1 MiB O_DSYNC writes (0.35 ms each at best here), and
        // with the index on this device too a shard writing ~80 MB/s (200k msgs/s) starts ~10 a second, time a pool
        // thread would spend blocked instead of serving sessions.
        segment.Filling = Task.Factory.StartNew(() => FillZeros(segment.Fd, from, target), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private long _zerosWritten;

    /// <summary>Bytes of zeros written (or being written) ahead of the tail: about the log's own bytes, plus a window.</summary>
    public long ZerosWritten => Volatile.Read(ref _zerosWritten);

    /// <summary>
    /// The zeros every fill writes from: allocated and cleared once per process and never written to, so any number of
    /// fills may read it at once. A buffer per fill cost a 1 MiB allocation, its 256 first-touch page faults and a
    /// clear each time (~35 fills a second per log at 900k msgs/s): 78% of the sequencer benchmark's page faults.
    /// </summary>
    private static readonly Lazy<nint> Zeros = new(() =>
    {
        void* zeros = NativeMemory.AlignedAlloc(FillChunk, 4096);
        new Span<byte>(zeros, FillChunk).Clear();
        return (nint)zeros;
    });

    /// <summary>Writes zeros over [from, to); only ever past every byte written so far (see <see cref="Segment.FilledTo"/>).</summary>
    private static void FillZeros(int fd, long from, long to)
    {
        byte* zeros = (byte*)Zeros.Value;
        for (long offset = from; offset < to;)
        {
            uint chunk = (uint)Math.Min(FillChunk, to - offset);
            (uint error, uint done) = DirectFile.WriteAll(fd, (ulong)offset, zeros, chunk);
            if (error != 0)
            {
                throw new IOException($"cannot preallocate the log segment: {Marshal.GetPInvokeErrorMessage((int)error)}", (int)error);
            }
            offset += done;
        }
    }

    /// <summary>Opens a segment file, creating it (and starting its fill) for a write.</summary>
    private Segment Open(int id, bool forWrite)
    {
        Segment segment;
        // Opened under the lock: the I/O thread and the reader threads may open one segment at the same time, and the
        // second would otherwise replace the first (its descriptor leaked, its fill state lost).
        lock (_segments)
        {
            if (_segments.TryGetValue(id, out Segment? open))
            {
                return open;
            }
            string path = SegmentPath(id);
            if (!forWrite && !File.Exists(path))
            {
                return Missing; // nothing there to read: reads return zeros
            }
            int fd = DirectFile.Open(path, _syncEachWrite);
            segment = new Segment(fd, DirectFile.Length(fd));
            _segments[id] = segment;
        }
        if (forWrite && _fillAhead && segment.FilledTo < SegmentSize)
        {
            StartFill(segment, Math.Min(SegmentSize, segment.FilledTo + FillAhead));
        }
        return segment;
    }

    private static readonly Segment Missing = new(-1, 0);

    private string SegmentPath(int id) => FileName + "." + id;

    public override long GetFileSize(int segment)
    {
        var file = new FileInfo(SegmentPath(segment));
        return file.Exists ? file.Length : 0;
    }

    public override void RemoveSegmentAsync(int segment, AsyncCallback callback, IAsyncResult result)
    {
        RemoveSegment(segment);
        callback(result);
    }

    public override void RemoveSegment(int segment)
    {
        lock (_segments)
        {
            if (_segments.Remove(segment, out Segment? open) && open.Fd >= 0)
            {
                WaitQuietly(open.Filling);
                DirectFile.Close(open.Fd);
            }
        }
        File.Delete(SegmentPath(segment));
    }

    public override void Dispose()
    {
        if (_stopping)
        {
            return;
        }
        lock (_requests)
        {
            _stopping = true;
            Monitor.Pulse(_requests);
        }
        _thread.Join();
        Thread[]? readers;
        lock (_reads)
        {
            Monitor.PulseAll(_reads);
            readers = _readers;
        }
        foreach (Thread reader in readers ?? [])
        {
            reader.Join();
        }
        lock (_segments)
        {
            foreach (Segment segment in _segments.Values)
            {
                if (segment.Fd >= 0)
                {
                    WaitQuietly(segment.Filling);
                    DirectFile.Close(segment.Fd);
                }
            }
            _segments.Clear();
        }
    }

    private static void WaitQuietly(Task fill)
    {
        try
        {
            fill.Wait();
        }
        catch (AggregateException)
        {
            // a failed fill has already failed the write that waited for it
        }
    }
}
