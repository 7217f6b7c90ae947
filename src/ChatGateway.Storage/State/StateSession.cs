using System.Runtime.InteropServices;
using FASTER.core;

namespace ChatGateway.Storage.State;

/// <summary>
/// One FASTER session over the index: single-threaded, one operation at a time (FASTER's rule). The writer
/// owns one; readers rent one each from <see cref="StateStore"/>. Keys and values are spans; values of the
/// fixed-size tables are read and written as their structs.
/// </summary>
internal sealed unsafe class StateSession : IDisposable
{
    private readonly ClientSession<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty, StateFunctions> _session;
    private readonly UnsafeContext<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty, StateFunctions> _context;
    private readonly StateFunctions _functions = new();
    private bool _held;

    /// <param name="copyColdReadsToTail">
    /// Records this session reads from disk are copied to the log's tail, in memory (the writer's prefetch session,
    /// <see cref="Prefetch"/>). Only there: as a session-wide option it made the writer's own operations 7–20% slower
    /// (one shard, pipelined Relaxed, three interleaved rounds), though they never went to disk.
    /// </param>
    public StateSession(FasterKV<SpanByte, SpanByte> store, bool copyColdReadsToTail = false)
    {
        _session = store.For(_functions).NewSession<StateFunctions>(
            sessionVariableLengthStructSettings: new SessionVariableLengthStructSettings<SpanByte, SpanByte> { valueLength = _functions.Lengths },
            readCopyOptions: copyColdReadsToTail ? new ReadCopyOptions(ReadCopyFrom.Device, ReadCopyTo.MainLog) : default);
        _context = _session.UnsafeContext;
    }

    /// <summary>
    /// Keeps this thread inside FASTER's epoch until the scope is disposed, so the operations in between skip
    /// their own enter and leave (each one reserves an epoch entry through a thread-local lookup and drains
    /// pending epoch actions on the way out). The writer holds it while it executes a batch, recovery while it
    /// replays a stretch of records. Nothing in the scope may await or block for long: flushes and checkpoints
    /// wait for every thread to leave the epoch it holds.
    /// </summary>
    public EpochScope HoldEpoch()
    {
        _context.BeginUnsafe();
        _held = true;
        return new EpochScope(this);
    }

    public readonly struct EpochScope(StateSession session) : IDisposable
    {
        public void Dispose()
        {
            session._held = false;
            session._context.EndUnsafe();
        }
    }

    // Outside a held scope each operation enters and leaves the epoch itself, as FASTER's safe calls do.
    private void Enter()
    {
        if (!_held)
        {
            _context.BeginUnsafe();
        }
    }

    private void Leave()
    {
        if (!_held)
        {
            _context.EndUnsafe();
        }
    }

    public bool TryRead<T>(ReadOnlySpan<byte> key, out T value) where T : unmanaged
    {
        value = default;
        Span<byte> bytes = MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref value, 1));
        int length = Read(key, bytes);
        if (length < 0)
        {
            return false;
        }
        if (length != bytes.Length)
        {
            throw new StoreCorruptedException($"index value of {length} bytes where {bytes.Length} were expected (key kind {key[0]})");
        }
        return true;
    }

    /// <summary>
    /// Reads a value into <paramref name="destination"/>. Returns its length, or -1 when the key is absent.
    /// A value longer than the destination is truncated to it (callers size buffers to the largest value).
    /// </summary>
    public int Read(ReadOnlySpan<byte> key, Span<byte> destination)
    {
        fixed (byte* k = key)
        fixed (byte* d = destination)
        {
            var keyBytes = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(k, key.Length));
            var output = new SpanByteAndMemory(SpanByte.FromFixedSpan(new Span<byte>(d, destination.Length)));
            Status status;
            Enter();
            try
            {
                status = _context.Read(ref keyBytes, ref output);
                if (status.IsPending)
                {
                    // On disk: wait for the I/O here. Only reads of cold history get this far.
                    _context.CompletePendingWithOutputs(out CompletedOutputIterator<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty> completed, wait: true);
                    using (completed)
                    {
                        if (!completed.Next())
                        {
                            return -1;
                        }
                        status = completed.Current.Status;
                        output = completed.Current.Output;
                    }
                }
            }
            finally
            {
                Leave();
            }
            if (!status.Found)
            {
                return -1;
            }
            if (output.IsSpanByte)
            {
                return output.Length;
            }
            // Did not fit: FASTER allocated. Copy what fits and free it.
            using IMemoryOwnerHolder memory = new(output.Memory);
            ReadOnlySpan<byte> source = output.Memory.Memory.Span[..output.Length];
            source[..Math.Min(source.Length, destination.Length)].CopyTo(destination);
            return output.Length;
        }
    }

    public void Upsert<T>(ReadOnlySpan<byte> key, in T value) where T : unmanaged =>
        Upsert(key, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));

    public void Upsert(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            var keyBytes = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(k, key.Length));
            var valueBytes = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(v, value.Length));
            Enter();
            try
            {
                _context.Upsert(ref keyBytes, ref valueBytes);
            }
            finally
            {
                Leave();
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="entry"/> under <paramref name="key"/> unless the key holds an entry with a timestamp at
    /// or after <paramref name="freshSince"/>: then nothing is written and that entry is returned. One index
    /// operation for the check and the write (see <see cref="StateFunctions"/>).
    /// </summary>
    public bool ClaimDedupe(ReadOnlySpan<byte> key, in DedupeEntry entry, long freshSince, out DedupeEntry existing)
    {
        fixed (byte* k = key)
        fixed (DedupeEntry* v = &entry)
        {
            var keyBytes = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(k, key.Length));
            var input = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(v, sizeof(DedupeEntry)));
            return Claim(StateFunctions.Operation.ClaimDedupe, ref keyBytes, ref input, freshSince, out existing);
        }
    }

    /// <summary>
    /// <see cref="ClaimDedupe"/> in a dedupe block (format 4): <paramref name="blockKey"/> names the block, and
    /// <paramref name="low"/> the id's low half within it (<see cref="DedupeBlock"/>). <paramref name="present"/>
    /// says which ids the block holds afterwards.
    /// </summary>
    public bool ClaimDedupeInBlock(ReadOnlySpan<byte> blockKey, ulong low, in DedupeEntry entry, long freshSince, out DedupeEntry existing, out ulong present)
    {
        var claim = new DedupeClaim { Low = low, Entry = entry };
        fixed (byte* k = blockKey)
        {
            var keyBytes = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(k, blockKey.Length));
            var input = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(&claim, sizeof(DedupeClaim)));
            bool claimed = Claim(StateFunctions.Operation.ClaimDedupeInBlock, ref keyBytes, ref input, freshSince, out existing);
            present = _functions.Present;
            return claimed;
        }
    }

    /// <summary>
    /// Writes claims of distinct ids into one dedupe block, over any entries the ids had: one index operation for
    /// all of them. Only for ids the caller knows may be written (<see cref="DedupeClaimRuns"/>).
    /// </summary>
    public void WriteDedupeClaims(ReadOnlySpan<byte> blockKey, ReadOnlySpan<DedupeClaim> claims)
    {
        fixed (byte* k = blockKey)
        fixed (DedupeClaim* c = claims)
        {
            var keyBytes = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(k, blockKey.Length));
            var input = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(c, claims.Length * sizeof(DedupeClaim)));
            _functions.Running = StateFunctions.Operation.WriteDedupeClaims;
            ReadModifyWrite(ref keyBytes, ref input);
        }
    }

    /// <summary>Runs one of the two dedupe claims; true when the entry was written (no fresh one was there).</summary>
    private bool Claim(StateFunctions.Operation claim, ref SpanByte key, ref SpanByte input, long freshSince, out DedupeEntry existing)
    {
        _functions.Running = claim;
        _functions.FreshSince = freshSince;
        _functions.Found = false;
        ReadModifyWrite(ref key, ref input);
        existing = _functions.Existing;
        return !_functions.Found;
    }

    /// <summary>
    /// Sets consecutive slots of a message block, from <paramref name="firstSlot"/> on (<see cref="MessageBlock"/>):
    /// one index operation for the whole run.
    /// </summary>
    public void SetMessageSlots(ReadOnlySpan<byte> blockKey, int firstSlot, ReadOnlySpan<MessageSlot> slots)
    {
        Span<byte> update = stackalloc byte[MessageSlotsUpdate.Size + MessageBlock.MaxBytes];
        MemoryMarshal.Write(update, new MessageSlotsUpdate { FirstSlot = firstSlot, Count = slots.Length });
        ReadOnlySpan<byte> values = MemoryMarshal.AsBytes(slots);
        values.CopyTo(update[MessageSlotsUpdate.Size..]);
        update = update[..(MessageSlotsUpdate.Size + values.Length)];
        fixed (byte* k = blockKey)
        fixed (byte* u = update)
        {
            var keyBytes = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(k, blockKey.Length));
            var input = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(u, update.Length));
            _functions.Running = StateFunctions.Operation.SetMessageSlots;
            ReadModifyWrite(ref keyBytes, ref input);
        }
    }

    private void ReadModifyWrite(ref SpanByte key, ref SpanByte input)
    {
        Enter();
        try
        {
            Status status = _context.RMW(ref key, ref input);
            if (status.IsPending)
            {
                _context.CompletePending(wait: true); // the key's record is on disk: its callbacks run in here
            }
        }
        finally
        {
            Leave();
        }
    }

    public void Delete(ReadOnlySpan<byte> key)
    {
        fixed (byte* k = key)
        {
            var keyBytes = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(k, key.Length));
            Enter();
            try
            {
                Status status = _context.Delete(ref keyBytes);
                if (status.IsPending)
                {
                    _context.CompletePending(wait: true);
                }
            }
            finally
            {
                Leave();
            }
        }
    }

    // Prefetches read into this (pinned: a read that goes to disk writes its output when it completes, after the
    // call returns); the values are not used. 4 KiB holds every record a prefetch asks for (a full dedupe block is
    // 2,064 bytes); a larger one would be allocated by FASTER and freed in CompletePrefetches.
    private readonly byte[] _prefetchOutput = GC.AllocateArray<byte>(4096, pinned: true);
    private int _prefetching;

    /// <summary>
    /// Starts reading <paramref name="key"/>'s record if it is on disk, with FASTER copying it to the log's tail (in
    /// memory: a session made with copyColdReadsToTail) when the read completes, and returns without waiting. A
    /// record in memory, or no record, costs one hash lookup. <see cref="CompletePrefetches"/> waits for all the reads started: their disk reads overlap, where the
    /// operations that need the records would each have waited for one in turn.
    /// </summary>
    public void Prefetch(ReadOnlySpan<byte> key)
    {
        fixed (byte* k = key)
        fixed (byte* o = _prefetchOutput)
        {
            var keyBytes = SpanByte.FromFixedSpan(new ReadOnlySpan<byte>(k, key.Length));
            var output = new SpanByteAndMemory(SpanByte.FromFixedSpan(new Span<byte>(o, _prefetchOutput.Length)));
            Enter();
            try
            {
                Status status = _context.Read(ref keyBytes, ref output);
                if (status.IsPending)
                {
                    _prefetching++;
                }
                else if (!output.IsSpanByte)
                {
                    output.Memory.Dispose();
                }
            }
            finally
            {
                Leave();
            }
        }
    }

    /// <summary>Waits for the reads <see cref="Prefetch"/> started; false when none was.</summary>
    public bool CompletePrefetches()
    {
        if (_prefetching == 0)
        {
            return false;
        }
        Enter();
        try
        {
            _context.CompletePendingWithOutputs(out CompletedOutputIterator<SpanByte, SpanByte, SpanByte, SpanByteAndMemory, Empty> completed, wait: true);
            using (completed)
            {
                while (completed.Next())
                {
                    if (!completed.Current.Output.IsSpanByte)
                    {
                        completed.Current.Output.Memory.Dispose();
                    }
                }
            }
        }
        finally
        {
            Leave();
        }
        _prefetching = 0;
        return true;
    }

    /// <summary>Finishes any operation FASTER left pending, so a checkpoint is never held up by this session.</summary>
    public void CompletePending() => _session.CompletePending(wait: true);

    public void Dispose() => _session.Dispose();

    private readonly struct IMemoryOwnerHolder(System.Buffers.IMemoryOwner<byte> owner) : IDisposable
    {
        public void Dispose() => owner.Dispose();
    }
}
