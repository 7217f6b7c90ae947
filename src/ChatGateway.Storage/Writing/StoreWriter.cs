using ChatGateway.Storage.Journal;
using ChatGateway.Storage.Recovery;
using ChatGateway.Storage.State;
using Microsoft.Extensions.Logging;

namespace ChatGateway.Storage.Writing;

/// <summary>
/// The single writer of the store. Every journaled change goes through its bounded queue; it takes up to
/// MaxBatchSize commands at a time, decides each (membership, dedupe, seq = head + 1, limits), appends the
/// records to the journal and applies them to the index, then commits the journal once for the whole batch
/// (group commit) and only then completes the commands. Batches grow by themselves under load: whatever
/// arrives during one commit forms the next batch.
/// <para>
/// One writer makes every decision race-free (no two writers can give out one seq) and keeps the index a
/// function of the journal order, which is what makes replay exact. Readers never see a message before its
/// commit: a conversation's head in the index moves only after the commit (see <see cref="StateMachine"/>).
/// </para>
/// <para>
/// Failure policy: an exception from the journal or the index leaves the in-memory index possibly ahead of
/// the journal, so the store stops ("faulted"): the batch and every later write fail with
/// <see cref="StoreFaultedException"/>; reopening recovers a consistent state from disk. Nothing that failed
/// was acknowledged.
/// </para>
/// </summary>
internal sealed class StoreWriter : IAsyncDisposable
{
    private static readonly WriteCommand TickCommand = new() { Kind = WriteKind.Tick };

    private readonly WriteQueue _queue;
    private readonly List<WriteCommand> _taken = []; // the writer's: what it took from the queue, ticks and checkpoint requests among them
    private readonly JournalLog _journal;
    private readonly StateStore _state;
    private readonly StateSession _session;
    private readonly StateMachine _machine;
    private readonly RecentRecords? _recent;
    private readonly StoreOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _directory;
    private readonly List<WriteCommand> _checkpointRequests = [];
    private readonly byte[] _recordBuffer;
    private readonly PeriodicTimer _ticker;
    private readonly Task _loop;
    private readonly Task _tickLoop;

    private readonly DriveInfo _drive;
    private bool _diskFull;
    private readonly long _freeSpaceReadingTicks;
    private long _nextFreeSpaceReadingAt; // a TimeProvider timestamp
    private long _nextFreeSpaceReadingTail; // a journal address
    private StoreMetadata _metadata;
    private long _lastCheckpointAt;
    private long _lastCommitAt;
    private Task _relaxedCommit = Task.CompletedTask; // Relaxed mode: the interval's commit, running beside new batches
    private volatile Exception? _fault;

    /// <param name="recent">Format 4: where the writer copies each message record for readers (<see cref="JournalReader"/>).</param>
    public StoreWriter(string directory, StoreOptions options, JournalLog journal, StateStore state, StateSession session,
        StateMachine machine, RecentRecords? recent, StoreMetadata metadata, TimeProvider time, ILogger logger)
    {
        _recent = recent;
        _directory = directory;
        _options = options;
        _journal = journal;
        _state = state;
        _session = session;
        _machine = machine;
        _metadata = metadata;
        _time = time;
        _logger = logger;
        _recordBuffer = new byte[JournalCodec.EncodedLength(options.MaxBodyBytes)];
        _drive = new DriveInfo(directory);
        _freeSpaceReadingTicks = (long)(FreeSpaceReadingInterval.TotalSeconds * time.TimestampFrequency);
        _queue = new WriteQueue(options.WriteQueueCapacity);
        _backlogStaysOnSubmitter = BacklogStaysOnSubmitterOn(options.ProcessorCount ?? Environment.ProcessorCount);
        _lastCheckpointAt = _lastCommitAt = time.GetTimestamp();
        _ticker = new PeriodicTimer(options.Durability == DurabilityMode.Relaxed ? options.RelaxedCommitInterval : TimeSpan.FromSeconds(1), time);
        _loop = Task.Run(RunAsync);
        _tickLoop = TickAsync();
    }

    public StoreMetadata Metadata => _metadata;

    /// <summary>The writer has nothing to do and waits for a write (a snapshot).</summary>
    public bool WaitingForWrites => _queue.ReaderWaiting;

    /// <summary>Told around each batch's outcomes (<see cref="ChatStore.ObserveBatches"/>); read by the writer once per batch.</summary>
    public volatile IWriteBatchObserver? Observer;
    public long Batches { get; private set; }
    public long Records { get; private set; }
    public long Checkpoints { get; private set; }

    /// <summary>
    /// Commit mode: per batch, from starting its commit to the writer going on to acknowledge it (the disk's writes,
    /// the commit's completion reaching the writer, and the next batch executed meanwhile). Every acknowledgement of
    /// the batch waited this long after the batch was executed.
    /// </summary>
    public DurationHistogram CommitWaits { get; } = new();

    public ValueTask<WriteResult> SubmitAsync(WriteCommand command)
    {
        if (_fault is { } fault)
        {
            command.Fail(Faulted(fault));
            return command.AsValueTask();
        }
        return _queue.TryWrite(command) ? command.AsValueTask() : SubmitSlowAsync(command);
    }

    /// <summary>
    /// Queues a command whose outcome goes to its callback. False when the queue is full or closed: the caller still
    /// owns the command. A store that has stopped takes it and calls the callback's Failed at once. Inside
    /// <see cref="WriteQueue.DeferWakes"/>, an idle writer is woken on this thread, later (see there).
    /// </summary>
    public bool TrySubmit(WriteCommand command)
    {
        if (_fault is { } fault)
        {
            Fail(command, Faulted(fault));
            return true;
        }
        return _queue.TryWrite(command, mayDeferWake: true);
    }

    /// <summary>Hands the outcome to the command's awaiter or callback; a callback that throws cannot stop the writer.</summary>
    private void Complete(WriteCommand command, in WriteResult result)
    {
        if (command.Callback is not { } callback)
        {
            command.Complete(result);
            return;
        }
        command.Recycle();
        try
        {
            callback.Written(result);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "A write's callback failed at {Directory}; the write itself was decided and stands", _directory);
        }
    }

    private void Fail(WriteCommand command, Exception error)
    {
        if (command.Callback is not { } callback)
        {
            command.Fail(error);
            return;
        }
        command.Recycle();
        try
        {
            callback.Failed(error);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "A write's failure callback failed at {Directory}", _directory);
        }
    }

    private async ValueTask<WriteResult> SubmitSlowAsync(WriteCommand command)
    {
        if (!await _queue.WriteAsync(command).ConfigureAwait(false)) // the queue is full: wait for room
        {
            command.ReleaseBody();
            throw new ObjectDisposedException(nameof(ChatStore), "the store is closing");
        }
        return await command.AsValueTask().ConfigureAwait(false);
    }

    private async Task TickAsync()
    {
        try
        {
            while (await _ticker.WaitForNextTickAsync().ConfigureAwait(false))
            {
                _queue.TryWrite(TickCommand);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// A batch between its execution and its completion: the commands, their results, the conversation
    /// records it changed, and the commit that makes it durable.
    /// </summary>
    private sealed class Batch
    {
        public readonly List<WriteCommand> Commands = [];
        public readonly List<WriteResult> Results = [];
        public readonly List<KeyValuePair<long, ConversationState>> Conversations = [];
        public ValueTask Commit;
        /// <summary>When <see cref="Commit"/> was started (a TimeProvider timestamp); 0 when the batch has none.</summary>
        public long CommitStartedAt;

        public void Clear()
        {
            Commands.Clear();
            Results.Clear();
            Conversations.Clear();
            Commit = default;
            CommitStartedAt = 0;
        }
    }

    // Two batches alternate: while one waits for its commit (about 1 ms on this disk), the next is executed.
    // Commits complete in journal order, so batches complete in order, and so do acknowledgements.
    private Batch _executing = new();
    private Batch _committing = new();
    private bool _inFlight;

    /// <summary>
    /// Whether a writer woken on the thread that queued the writes (<see cref="WriteQueue.RunDeferredWakes"/>) also
    /// takes, there, the backlog it finds after that batch, until its queue is empty (at most
    /// <see cref="MaxBatchesOnSubmitter"/> batches): on a single core only. With more
    /// cores the backlog goes to the pool, so that the borrowed thread (a connection's reader) gets back to its own
    /// work while another core writes. On one core the pool thread would only share that core with the reader, and
    /// the scheduler's time slices would interleave them: the reader parsed thousands of requests in its slice, the
    /// writer then took them long after, and each request's frame, work item and body had left the cache by then.
    /// perf in `pairs` (Relaxed, 100 pairs, window 64), share of the server's samples: StoreWriter.AppendMessage 11.9%
    /// and Sequencer.Complete 11.2% with the backlog on the pool, 5.0% and 3.4% with it here (the kernel's share rose:
    /// smaller batches, more sends per message); messages per server CPU-second ahead in 6 of 9 interleaved rounds,
    /// by about 5% (docs/benchmarks.md, session 25).
    /// </summary>
    internal static bool BacklogStaysOnSubmitterOn(int processorCount) => processorCount == 1;

    /// <summary>
    /// The most batches one borrowed thread runs before the rest goes to the pool even on one core: writes that other
    /// threads keep queuing must not hold the borrowed thread (a poller's, with every other connection's input behind
    /// it) for good. 16 batches are up to 16 × <see cref="StoreOptions.MaxBatchSize"/> requests.
    /// </summary>
    internal const int MaxBatchesOnSubmitter = 16;

    private readonly bool _backlogStaysOnSubmitter;

    private async Task RunAsync()
    {
        bool onSubmitter = false; // this batch runs on the thread that queued it (WriteQueue.RunDeferredWakes)
        int batchesOnSubmitter = 0;
        while (true)
        {
            // One batch on a borrowed thread: that thread has its own work (its session's next read) to get back
            // to, so a backlog that built up meanwhile is taken on the pool (on one core, here, up to
            // MaxBatchesOnSubmitter batches: see BacklogStaysOnSubmitterOn).
            bool staysOnSubmitter = onSubmitter && _backlogStaysOnSubmitter && !_queue.IsEmpty
                && ++batchesOnSubmitter < MaxBatchesOnSubmitter;
            if (onSubmitter && !staysOnSubmitter)
            {
                onSubmitter = false;
                batchesOnSubmitter = 0;
                if (!_queue.IsEmpty)
                {
                    await Task.Yield();
                }
            }
            if (_queue.IsEmpty)
            {
                if (_inFlight)
                {
                    try
                    {
                        await FinishInFlightAsync().ConfigureAwait(false); // nothing to overlap with: wait here
                    }
                    catch (Exception ex)
                    {
                        Stop(ex);
                    }
                    continue;
                }
                if (!await _queue.WaitToReadAsync().ConfigureAwait(false))
                {
                    break;
                }
                onSubmitter = _queue.TakeReaderOnWriterThread();
            }
            _queue.TakeUpTo(_taken, _options.MaxBatchSize - _executing.Commands.Count);
            foreach (WriteCommand command in _taken)
            {
                switch (command.Kind)
                {
                    case WriteKind.Tick:
                        break; // only wakes the loop for MaintainAsync
                    case WriteKind.Checkpoint:
                        _checkpointRequests.Add(command);
                        break;
                    default:
                        _executing.Commands.Add(command);
                        break;
                }
            }
            _taken.Clear();

            if (_fault is not null)
            {
                FailAll(_fault);
                continue;
            }
            try
            {
                if (_state.WriteFailure.IsCompleted)
                {
                    // Nothing more can be applied to an index whose pages cannot be written: stop here, clearly.
                    throw new StoreException("the index's log could not be written", _state.WriteFailure.Result);
                }
                if (_executing.Commands.Count > 0 && DiskFull())
                {
                    RefuseAll(_executing);
                }
                if (_executing.Commands.Count > 0)
                {
                    Execute(_executing);
                    if (_inFlight)
                    {
                        await FinishInFlightAsync().ConfigureAwait(false);
                    }
                    (_executing, _committing) = (_committing, _executing);
                    _inFlight = true;
                }
                await MaintainAsync().ConfigureAwait(false);
                if (_inFlight && _committing.Commit.IsCompleted)
                {
                    // Relaxed mode (no commit to wait for): acknowledge now rather than after the next batch has executed,
                    // but after MaintainAsync started the commit if one was due (it covers this batch), so acknowledgements
                    // cannot run ahead of the commit interval. Acking before that check let a sender that paused (or was
                    // descheduled) right after its acks leave its last batches uncommitted until the next tick.
                    await FinishInFlightAsync().ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                Stop(ex);
            }
        }

        if (_fault is null)
        {
            await CheckpointAsync("shutdown").ConfigureAwait(false);
            _metadata = _metadata with { CleanShutdown = true };
            _metadata.Save(_directory);
        }
        else
        {
            // Stopped by a failure: a commit still running ends too (its own failure, if any, says nothing new).
            await _relaxedCommit.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
        }
    }

    private void Stop(Exception ex)
    {
        _logger.LogCritical(ex, "Store at {Directory} stopped: a journal or index operation failed", _directory);
        _fault = ex;
        FailAll(ex);
    }

    /// <summary>The longest the writer goes without reading the disk's free space while it accepts writes.</summary>
    private static readonly TimeSpan FreeSpaceReadingInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Whether to refuse the batch. Free space is read (one statvfs call) when the last reading is
    /// <see cref="FreeSpaceReadingInterval"/> old or the journal has grown by an eighth of
    /// <see cref="StoreOptions.MinFreeDiskBytes"/> since, and before every batch while writes are refused, so that freed
    /// space lets the very next write through. Between two readings the store writes that eighth to the journal (plus
    /// the rest of the batch that crosses it, as when every batch was checked) and about as much to the index, well
    /// inside the margin <see cref="StoreOptions.MinFreeDiskBytes"/> keeps. Reading it before every batch was 6% of the
    /// server's CPU samples at 20,000 messages/s arriving one at a time (a batch each; perf on `rate`, session 23).
    /// </summary>
    private bool DiskFull()
    {
        long now = _time.GetTimestamp();
        long tail = _journal.TailAddress;
        if (!_diskFull && now < _nextFreeSpaceReadingAt && tail < _nextFreeSpaceReadingTail)
        {
            return false;
        }
        _nextFreeSpaceReadingAt = now + _freeSpaceReadingTicks;
        _nextFreeSpaceReadingTail = tail + _options.MinFreeDiskBytes / 8;
        long free = _drive.AvailableFreeSpace;
        bool full = free < _options.RequiredFreeBytes;
        if (full != _diskFull)
        {
            _logger.Log(full ? LogLevel.Error : LogLevel.Information,
                full ? "Store at {Directory}: {Free} bytes free, below the {Required} it needs; refusing writes until space is freed"
                     : "Store at {Directory}: {Free} bytes free again; accepting writes", _directory, free, _options.RequiredFreeBytes);
            _diskFull = full;
        }
        return full;
    }

    private void RefuseAll(Batch batch)
    {
        var error = new StoreDiskFullException($"the store's disk has less than {_options.RequiredFreeBytes} bytes free; the write was refused and nothing was written");
        foreach (WriteCommand command in batch.Commands)
        {
            command.ReleaseBody();
            Fail(command, error);
        }
        batch.Clear();
    }

    private static StoreFaultedException Faulted(Exception cause) =>
        new("the store stopped after an I/O failure; reopen it to recover", cause);

    private void FailAll(Exception cause)
    {
        StoreFaultedException error = Faulted(cause);
        foreach (Batch batch in new[] { _committing, _executing })
        {
            foreach (WriteCommand command in batch.Commands)
            {
                Fail(command, error);
            }
            batch.Clear();
        }
        _inFlight = false;
        foreach (WriteCommand command in _checkpointRequests)
        {
            command.Fail(error);
        }
        _checkpointRequests.Clear();
    }

    /// <summary>Decides and journals every command of the batch, then starts its commit (Commit mode).</summary>
    private void Execute(Batch batch)
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        long recordsBefore = Records;
        Prefetch(batch); // outside the held epoch: it uses a session of its own
        using (_session.HoldEpoch()) // one epoch entry for the batch's index operations, not one per operation
        {
            foreach (WriteCommand command in batch.Commands)
            {
                batch.Results.Add(Execute(command, now));
                command.ReleaseBody();
            }
            _machine.FlushGatheredWrites(); // before FinishInFlightAsync publishes the batch's heads
        }
        _machine.TakeChanges(batch.Conversations);
        if (Records != recordsBefore && _options.Durability == DurabilityMode.Commit)
        {
            batch.CommitStartedAt = _time.GetTimestamp();
            batch.Commit = _journal.CommitAsync();
        }
    }

    private readonly HashSet<long> _coldConversations = [];

    /// <summary>
    /// Reads from disk, all at once, the index records the batch's messages to conversations whose state is not in
    /// memory will need: the conversation's state, the sender's membership, its dedupe block, then the message block
    /// of the next seq. Their reads overlap, and each record is copied back into memory, where executing the commands
    /// one after another would wait for each read in turn (the writer is single-threaded). In a store whose
    /// conversations outnumber what the index keeps in memory, most messages would otherwise cost three disk reads in
    /// series. A batch of conversations already in memory pays one dictionary lookup per message.
    /// </summary>
    private void Prefetch(Batch batch)
    {
        _coldConversations.Clear();
        foreach (WriteCommand command in batch.Commands)
        {
            if (command.Kind != WriteKind.AppendMessage || _machine.IsCached(command.Conversation) || !_coldConversations.Add(command.Conversation))
            {
                continue;
            }
            _machine.PrefetchConversation(command.Conversation);
            _machine.PrefetchMembership(command.Conversation, command.User);
            if (command.Peer != 0 && command.Peer != command.User)
            {
                _machine.PrefetchMembership(command.Conversation, command.Peer);
            }
            if (!command.ClientId.IsEmpty)
            {
                _machine.PrefetchDedupe(command.User, command.ClientId);
            }
        }
        if (_coldConversations.Count == 0)
        {
            return;
        }
        _machine.CompletePrefetches();
        foreach (long conversation in _coldConversations)
        {
            _machine.PrefetchNextMessageBlock(conversation);
        }
        _machine.CompletePrefetches();
    }

    /// <summary>Waits for the batch in flight to be durable, publishes its conversation heads, acknowledges it.</summary>
    private async Task FinishInFlightAsync()
    {
        Batch batch = _committing;
        await batch.Commit.ConfigureAwait(false);
        if (batch.CommitStartedAt != 0)
        {
            CommitWaits.Record(_time.GetElapsedTime(batch.CommitStartedAt));
        }
        // Committed (or, in Relaxed mode, acknowledged): readers may see these heads now.
        _machine.WriteChanges(batch.Conversations, _executing.Conversations);
        Batches++;
        IWriteBatchObserver? observer = Observer;
        observer?.OutcomesStarting();
        try
        {
            for (int i = 0; i < batch.Commands.Count; i++)
            {
                Complete(batch.Commands[i], batch.Results[i]);
            }
        }
        finally
        {
            observer?.OutcomesTold();
        }
        batch.Clear();
        _inFlight = false;
    }

    private WriteResult Execute(WriteCommand command, long now)
    {
        switch (command.Kind)
        {
            case WriteKind.AppendMessage:
                return AppendMessage(command, now);
            case WriteKind.AddMember:
                return ChangeMember(command.Conversation, command.User, add: true, now)
                    ? new WriteResult(WriteStatus.Ok, command.Conversation, Timestamp: now)
                    : new WriteResult(WriteStatus.AlreadyMember, command.Conversation);
            case WriteKind.CreateConversation:
                // Atomic with respect to every other write: the caller picks an id and learns here whether it
                // is still free (no member and no message ever), so two creators can never share one id.
                ConversationState existing = _machine.GetConversation(command.Conversation);
                if (existing.MemberCount > 0 || existing.Head > 0)
                {
                    return new WriteResult(WriteStatus.Exists, command.Conversation);
                }
                ChangeMember(command.Conversation, command.User, add: true, now);
                foreach (long member in command.Members ?? [])
                {
                    ChangeMember(command.Conversation, member, add: true, now); // duplicates join once
                }
                return new WriteResult(WriteStatus.Ok, command.Conversation, Timestamp: now);
            case WriteKind.MarkRead:
                if (!_machine.IsMember(command.Conversation, command.User))
                {
                    return new WriteResult(WriteStatus.NotMember, command.Conversation);
                }
                long head = _machine.GetConversation(command.Conversation).Head;
                long readUpTo = Math.Min(command.Seq, head);
                if (readUpTo <= StateQueries.ReadPosition(_session, command.User, command.Conversation))
                {
                    return new WriteResult(WriteStatus.NoChange, command.Conversation, readUpTo);
                }
                Append(new JournalRecord { Kind = RecordKind.ReadMarked, User = command.User, Conversation = command.Conversation, Seq = readUpTo, Timestamp = now });
                return new WriteResult(WriteStatus.Ok, command.Conversation, readUpTo, now);
            case WriteKind.AddMembers:
            case WriteKind.RemoveMembers:
                return ChangeMembers(command, now);
            case WriteKind.Barrier:
                return new WriteResult(WriteStatus.NoChange);
            case WriteKind.RemoveMember:
                return ChangeMember(command.Conversation, command.User, add: false, now)
                    ? new WriteResult(WriteStatus.Ok, command.Conversation, Timestamp: now)
                    : new WriteResult(WriteStatus.NotMember, command.Conversation);
            case WriteKind.EnqueuePending:
                if (StateQueries.TryGetPendingEntryOf(_session, command.User, command.Conversation, out PendingEntry entry))
                {
                    // The durable fact is "this conversation has news from FromSeq on": the client syncs it to the
                    // head whatever ToSeq says. Extending ToSeq/LastAt in the index only (not journaled) keeps a
                    // large group's offline fan-out at one journal record per member per unread conversation,
                    // instead of one per member per message. A crash may roll these hints back, never the entry.
                    if (entry.ToSeq < command.Seq)
                    {
                        _machine.ExtendPending(command.User, command.Conversation, command.Seq, now);
                    }
                    return new WriteResult(WriteStatus.NoChange, command.Conversation, command.Seq);
                }
                Append(new JournalRecord
                {
                    Kind = RecordKind.PendingEnqueued, User = command.User, Conversation = command.Conversation,
                    Seq = command.Seq, Timestamp = now, Aux = _options.PendingQueueDepth,
                });
                return new WriteResult(WriteStatus.Ok, command.Conversation, command.Seq, now);
            case WriteKind.AckPending:
                PendingHeader header = StateQueries.PendingHeader(_session, command.User);
                long upTo = Math.Clamp(command.Seq, header.Head, header.Tail);
                if (upTo == header.Head && header.Dropped == 0)
                {
                    return new WriteResult(WriteStatus.NoChange, Seq: upTo);
                }
                Append(new JournalRecord { Kind = RecordKind.PendingAcked, User = command.User, Aux = upTo, Timestamp = now });
                return new WriteResult(WriteStatus.Ok, Seq: upTo);
            default:
                throw new InvalidOperationException($"not a write: {command.Kind}");
        }
    }

    /// <summary>
    /// Adds or removes each of the command's users whose membership would change, and compacts the command's
    /// <see cref="WriteCommand.Members"/> in place to them: the result's Seq is their count, the array's first Seq
    /// entries are who they are (<see cref="ChatStore.TryChangeMembers"/>).
    /// </summary>
    private WriteResult ChangeMembers(WriteCommand command, long now)
    {
        bool add = command.Kind == WriteKind.AddMembers;
        long[] users = command.Members ?? [];
        int changed = 0;
        foreach (long user in users)
        {
            if (ChangeMember(command.Conversation, user, add, now))
            {
                users[changed++] = user;
            }
        }
        return new WriteResult(changed > 0 ? WriteStatus.Ok : WriteStatus.NoChange, command.Conversation, changed, now);
    }

    /// <summary>Journals <paramref name="user"/> joining (or leaving) when that changes something; false when they already were (or were not) a member.</summary>
    private bool ChangeMember(long conversation, long user, bool add, long now)
    {
        if (_machine.IsMember(conversation, user) == add)
        {
            return false;
        }
        Append(new JournalRecord { Kind = add ? RecordKind.MemberAdded : RecordKind.MemberRemoved, Conversation = conversation, User = user, Timestamp = now });
        return true;
    }

    private WriteResult AppendMessage(WriteCommand command, long now)
    {
        bool created = false;
        if (command.Peer != 0)
        {
            if (!JoinDirect(command, now, out created))
            {
                return new WriteResult(WriteStatus.NotMember, command.Conversation);
            }
        }
        else if (command.RequireMembership && !_machine.IsMember(command.Conversation, command.User))
        {
            return new WriteResult(WriteStatus.NotMember, command.Conversation);
        }

        ConversationState state = _machine.GetConversation(command.Conversation);
        long seq = state.Head + 1;
        long timestamp = Math.Max(now, state.LastTimestamp);
        bool claimed = !command.ClientId.IsEmpty;
        if (claimed
            && !_machine.TryClaimDedupe(command.User, command.ClientId, new DedupeEntry { Conversation = command.Conversation, Seq = seq, Timestamp = timestamp },
                freshSince: now - (long)_options.DedupeWindow.TotalMilliseconds, out DedupeEntry original))
        {
            return new WriteResult(WriteStatus.Duplicate, original.Conversation, original.Seq, original.Timestamp);
        }
        long keep = _options.RetainMessagesPerConversation;
        long deleteSeq = keep > 0 && seq - keep >= state.EarliestSeq ? seq - keep : 0;
        Append(new JournalRecord
        {
            Kind = RecordKind.MessageAppended,
            Conversation = command.Conversation,
            Seq = seq,
            User = command.User,
            Timestamp = timestamp,
            Aux = deleteSeq,
            ClientId = command.ClientId,
            Body = command.BodySpan,
        }, dedupeClaimed: claimed);
        return new WriteResult(WriteStatus.Ok, command.Conversation, seq, timestamp, created);
    }

    /// <summary>
    /// A direct message's membership, from the machine's cache: both of the pair are members (go on), neither is
    /// and the id was never used (create it: both join in this batch, before the message), or anything else (the
    /// id belongs to another pair: refuse).
    /// </summary>
    private bool JoinDirect(WriteCommand command, long now, out bool created)
    {
        created = false;
        long conversation = command.Conversation;
        bool senderIn = _machine.IsMember(conversation, command.User);
        bool peerIn = command.Peer == command.User ? senderIn : _machine.IsMember(conversation, command.Peer);
        if (senderIn && peerIn)
        {
            return true;
        }
        ConversationState existing = _machine.GetConversation(conversation);
        if (senderIn || peerIn || existing.MemberCount > 0 || existing.Head > 0)
        {
            return false;
        }
        Append(new JournalRecord { Kind = RecordKind.MemberAdded, Conversation = conversation, User = command.User, Timestamp = now });
        if (command.Peer != command.User)
        {
            Append(new JournalRecord { Kind = RecordKind.MemberAdded, Conversation = conversation, User = command.Peer, Timestamp = now });
        }
        created = true;
        return true;
    }

    private void Append(scoped in JournalRecord record, bool dedupeClaimed = false)
    {
        int length = JournalCodec.Encode(_recordBuffer, record);
        ReadOnlySpan<byte> encoded = _recordBuffer.AsSpan(0, length);
        long address = _journal.Append(encoded);
        if (record.Kind == RecordKind.MessageAppended)
        {
            _recent?.Add(address, encoded);
        }
        _machine.Apply(record, address, dedupeClaimed);
        Records++;
    }

    private async Task MaintainAsync()
    {
        long now = _time.GetTimestamp();
        if (_relaxedCommit.IsCompleted)
        {
            await _relaxedCommit.ConfigureAwait(false); // a failed commit stops the writer here, as an awaited one would
        }
        if (_options.Durability == DurabilityMode.Relaxed
            && _relaxedCommit.IsCompleted
            && _journal.TailAddress > _journal.CommittedUntilAddress
            && _time.GetElapsedTime(_lastCommitAt, now) >= _options.RelaxedCommitInterval)
        {
            // Started, not awaited: it covers everything appended so far (the batches just acknowledged included)
            // while the writer goes on with the next ones. Awaited here, every message arriving during the fsync
            // waited for it: at 20,000 msgs/s the writer's stage alone had a p99 of 250–475 µs and p99.9 of
            // 1.1–1.7 ms; running beside it, 75–125 µs and 225–375 µs (docs/benchmarks.md, session 10). One at a
            // time: the next is started by the first batch or tick after this one completes. (In session 5 a
            // background commit fell far behind the appends, 44 KB of 3.6 MB in 600 ms, on FASTER's own device;
            // on the segment device it keeps up, which DurabilityModeTests checks commit by commit.)
            _relaxedCommit = _journal.CommitAsync().AsTask();
            _lastCommitAt = now;
        }

        string? reason = _checkpointRequests.Count > 0 ? "requested"
            : _time.GetElapsedTime(_lastCheckpointAt, now) >= _options.CheckpointInterval && _journal.TailAddress > _metadata.ReplayFrom ? "interval"
            : _journal.TailAddress - _metadata.ReplayFrom >= _options.CheckpointJournalBytes ? "journal growth"
            : null;
        if (reason is null)
        {
            return;
        }
        if (_inFlight)
        {
            await FinishInFlightAsync().ConfigureAwait(false); // a checkpoint needs everything applied to be committed
        }
        await CheckpointAsync(reason).ConfigureAwait(false);
        foreach (WriteCommand request in _checkpointRequests)
        {
            request.Complete(new WriteResult(WriteStatus.Ok));
        }
        _checkpointRequests.Clear();
    }

    /// <summary>
    /// Checkpoint between batches: everything applied is committed (the journal is committed first, which
    /// matters in Relaxed mode), so the index checkpoint plus the journal from the current tail is the whole
    /// state. Order: checkpoint, then metadata, then purge and truncate, so a crash anywhere leaves a pair
    /// that recovers. The journal is truncated up to the replay point, or in format 4 only as far as message
    /// retention allows (<see cref="JournalRetention"/>).
    /// </summary>
    public async Task CheckpointAsync(string reason)
    {
        long started = _time.GetTimestamp();
        await _relaxedCommit.ConfigureAwait(false);
        await _journal.CommitAsync().ConfigureAwait(false);
        long replayFrom = _journal.TailAddress;
        _session.CompletePending();
        Guid token = await _state.CheckpointAsync().ConfigureAwait(false);
        long truncateUntil = replayFrom;
        IReadOnlyList<JournalMark> marks = _metadata.RetentionMarks;
        if (_metadata.MessageBlocks)
        {
            // Message bodies live in the journal: keep it back to the oldest message age retention still serves.
            (marks, truncateUntil) = JournalRetention.AtCheckpoint(marks, _time.GetUtcNow().ToUnixTimeMilliseconds(), replayFrom, _options.RetainMessagesFor);
        }
        _metadata = _metadata with { Checkpoint = token, ReplayFrom = replayFrom, RetentionMarks = marks };
        _metadata.Save(_directory);
        _state.PurgeCheckpointsExcept(token);
        if (truncateUntil > _journal.BeginAddress)
        {
            _journal.TruncateUntil(truncateUntil);
        }
        _lastCheckpointAt = _lastCommitAt = _time.GetTimestamp();
        Checkpoints++;
        _logger.LogInformation("Store checkpoint {Token} ({Reason}) in {Elapsed} ms; journal replays from {ReplayFrom}",
            token, reason, (long)_time.GetElapsedTime(started).TotalMilliseconds, replayFrom);
        WarnIfIndexOverflows();
    }

    private long _overflowWarnedAt;

    /// <summary>
    /// Once the index's overflow buckets outnumber its table, and again each time they double: every lookup then
    /// walks a chain, and the writer's cost per message grows with it (bench/results/micro-chat.md, session 8).
    /// </summary>
    private void WarnIfIndexOverflows()
    {
        long buckets = _state.IndexBuckets;
        long overflow = _state.IndexOverflowBuckets;
        if (overflow <= Math.Max(buckets, 2 * _overflowWarnedAt))
        {
            return;
        }
        _overflowWarnedAt = overflow;
        _logger.LogWarning("Store at {Directory}: the index holds {Overflow} overflow buckets for its {Buckets} buckets ({Bytes} MiB of memory); " +
                           "lookups walk chains, and each message costs more as they grow. A new store with a larger Storage:IndexHashBytes holds more keys without them",
            _directory, overflow, buckets, overflow * 64 >> 20);
    }

    public async ValueTask DisposeAsync()
    {
        _ticker.Dispose();
        _queue.Close();
        await _loop.ConfigureAwait(false);
        await _tickLoop.ConfigureAwait(false);
        _machine.Dispose(); // its prefetch session, before the store's index closes
    }
}
