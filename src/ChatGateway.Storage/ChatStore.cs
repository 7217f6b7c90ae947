using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using ChatGateway.Storage.Journal;
using ChatGateway.Storage.Reading;
using ChatGateway.Storage.Recovery;
using ChatGateway.Storage.State;
using ChatGateway.Storage.Writing;
using FASTER.core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ChatGateway.Storage;

/// <summary>
/// The durable state of a chat node: messages with gap-free per-conversation sequence numbers, membership,
/// a dedupe window per sender, per-user pending queues, and presence.
/// <list type="bullet">
/// <item>Writes (append, membership, pending) are journaled and serialized through one writer with group
/// commit; each returns once it is durable (Commit mode) or buffered (Relaxed mode). Any thread may call.</item>
/// <item>Reads are served from the index by any thread, and see only committed messages.</item>
/// <item>Opening recovers: latest index checkpoint + replay of the journal after it; damage in the journal
/// stops the replay at the last intact record and is reported in the log.</item>
/// </list>
/// Ids (conversations, users) are 64-bit numbers chosen by the caller.
/// </summary>
public sealed class ChatStore : IAsyncDisposable
{
    private readonly StoreOptions _options;
    private readonly TimeProvider _time;
    private readonly StoreLock _lock;
    private readonly StateStore _state;
    private readonly JournalLog _journal;
    private readonly StateSession _writerSession;
    private readonly StoreWriter _writer;
    private readonly JournalReader? _messages;
    private readonly ILogger _logger;
    private int _disposed;

    private ChatStore(StoreOptions options, TimeProvider time, StoreLock storeLock, StateStore state, JournalLog journal,
        StateSession writerSession, StoreWriter writer, JournalReader? messages, RecoveryReport recovery, ILogger logger)
    {
        _messages = messages;
        _options = options;
        _logger = logger;
        _time = time;
        _lock = storeLock;
        _state = state;
        _journal = journal;
        _writerSession = writerSession;
        _writer = writer;
        Recovery = recovery;
    }

    /// <summary>What opening the store found and did.</summary>
    public RecoveryReport Recovery { get; }

    /// <summary>
    /// Has the writer tell <paramref name="observer"/> when it starts and ends each batch's callbacks
    /// (<see cref="IWriteBatchObserver"/>); null stops it. Batches already completing may still see the previous one.
    /// </summary>
    public void ObserveBatches(IWriteBatchObserver? observer) => _writer.Observer = observer;

    /// <summary>
    /// Until <see cref="RunDeferredWriterWakes"/> on this thread, a write queued with a callback
    /// (<see cref="TryAppendMessage"/> and its siblings) that finds a store's writer idle leaves the writer to be run
    /// by that call, here, rather than woken on the thread pool. For a thread that queues a burst of writes and then
    /// has nothing else to do: the burst becomes one batch, and at a moderate rate no thread is woken per message
    /// (the writer's wake was one of about five context switches per message at 20,000 msgs/s). Call
    /// <see cref="RunDeferredWriterWakes"/> in a finally, soon: other threads' writes wait behind the owed wake.
    /// </summary>
    public static void DeferWriterWakes() => WriteQueue.DeferWakes();

    /// <summary>
    /// Ends <see cref="DeferWriterWakes"/>. Each writer it left idle runs one batch here (callbacks included); a
    /// backlog beyond that batch goes on on the thread pool.
    /// </summary>
    public static void RunDeferredWriterWakes() => WriteQueue.RunDeferredWakes();

    /// <summary>The writer has nothing to do and waits for a write (a snapshot; tests wait for it).</summary>
    internal bool WriterWaiting => _writer.WaitingForWrites;

    /// <summary>1 for a new store; increases each time the store is opened after a crash (see <see cref="DurabilityMode.Relaxed"/>).</summary>
    public long Incarnation => _writer.Metadata.Incarnation;

    /// <summary>The index log's device when it is ours (Linux): tests inject write failures through it.</summary>
    internal Disk.SegmentDevice? IndexDevice => _state.Device;

    /// <summary>The journal's device when it is ours (Linux).</summary>
    internal Disk.SegmentDevice? JournalDevice => _journal.Device;

    /// <summary>Tests: the devices the index's checkpoint files are written through.</summary>
    internal Disk.CheckpointDeviceFactory CheckpointFiles => _state.CheckpointFiles;

    public StoreStats Stats => new(_writer.Batches, _writer.Records, _writer.Checkpoints, _journal.TailAddress - _journal.BeginAddress,
        _journal.CommittedUntilAddress - _journal.BeginAddress, Incarnation, _state.IndexBuckets, _state.IndexOverflowBuckets);

    /// <summary>
    /// Commit mode: how long each batch's acknowledgements waited for its commit, since the store opened (empty in
    /// Relaxed mode, where nothing waits for one). Subtract an earlier snapshot for an interval.
    /// </summary>
    public DurationSnapshot CommitWaits => _writer.CommitWaits.Snapshot();

    /// <summary>Opens (creating if needed) the store in <see cref="StoreOptions.Directory"/> and recovers it.</summary>
    public static async Task<ChatStore> OpenAsync(StoreOptions options, ILogger? logger = null, TimeProvider? time = null)
    {
        options.Validate();
        logger ??= NullLogger.Instance;
        time ??= TimeProvider.System;
        string directory = Path.GetFullPath(options.Directory);
        Directory.CreateDirectory(directory);
        StoreLock storeLock = StoreLock.Acquire(directory);
        StateStore? state = null;
        JournalLog? journal = null;
        StateSession? session = null;
        StateSession? prefetch = null;
        try
        {
            long started = Stopwatch.GetTimestamp();
            StoreMetadata? saved = StoreMetadata.Load(directory);
            StoreMetadata metadata = saved ?? new StoreMetadata { Format = options.NewStoreFormat };
            state = new StateStore(Path.Combine(directory, "index"), options, metadata.Format);
            if (metadata.Checkpoint is Guid checkpoint)
            {
                long configuredBuckets = state.IndexBuckets; // the setting, as FASTER sized a new table from it
                state.Recover(checkpoint);
                if (state.IndexBuckets != configuredBuckets)
                {
                    // FASTER recovers the checkpointed table at its own size, whatever the setting says now.
                    logger.LogWarning("Store at {Directory}: Storage:IndexHashBytes is {Configured}, but the store's hash table has {Kept} bytes " +
                                      "and keeps them (the size is fixed when a store is created)", directory, options.IndexHashBytes, state.IndexBuckets * 64);
                }
            }
            else
            {
                state.PurgeCheckpointsExcept(Guid.Empty); // checkpoints a crash left before the first metadata
            }
            journal = new JournalLog(Path.Combine(directory, "journal"), options);
            session = state.NewSession();
            prefetch = state.NewPrefetchSession();
            var machine = new StateMachine(session, prefetch, options.MaxBodyBytes, metadata.MessageBlocks);

            if (journal.CommittedUntilAddress < metadata.ReplayFrom)
            {
                // The last checkpoint committed the journal up to ReplayFrom before it was recorded, so a journal
                // that now ends earlier lost its commit metadata (or files). Opening it would hand out the seqs
                // after the checkpoint a second time: refuse, loudly.
                throw new StoreCorruptedException(
                    $"{directory}: the journal recovered to address {journal.CommittedUntilAddress}, before {metadata.ReplayFrom} where the last " +
                    "checkpoint left it: its commit metadata or segment files are missing or unreadable. Opening it would reuse sequence numbers; " +
                    "restore the journal folder from a backup");
            }
            long replayFrom = Math.Max(metadata.ReplayFrom, journal.BeginAddress);
            bool crashed = saved is { CleanShutdown: false };
            long bytesPastCommit = crashed ? journal.BytesPastCommit() : 0;
            (long replayed, long? damagedAt) = Replay(journal, machine, replayFrom, logger);
            machine.FlushConversations();
            if (damagedAt is not null)
            {
                // FASTER 2.6.5: a scan that throws on a damaged commit record leaves the scanning thread inside
                // the log's epoch, and every later commit from another thread then waits forever. A fresh
                // instance has a fresh epoch (and recovers the same committed end).
                journal.Dispose();
                journal = new JournalLog(Path.Combine(directory, "journal"), options);
            }
            metadata = metadata with { Incarnation = metadata.Incarnation + (crashed ? 1 : 0), CleanShutdown = false };
            if (saved is null)
            {
                // A new store has nothing to replay: without this, the first periodic checkpoint (the whole hash
                // index, 32 MiB by default) ran a minute after opening even when nothing was ever written.
                metadata = metadata with { ReplayFrom = journal.TailAddress };
            }
            metadata.Save(directory);

            RecentRecords? recent = metadata.MessageBlocks ? new RecentRecords(options.RecentMessagesBytes, journal.TailAddress) : null;
            var writer = new StoreWriter(directory, options, journal, state, session, machine, recent, metadata, time, logger);
            var report = new RecoveryReport(saved is null, crashed, metadata.Checkpoint, replayed, damagedAt,
                journal.CommittedUntilAddress - (damagedAt ?? journal.CommittedUntilAddress), bytesPastCommit, Stopwatch.GetElapsedTime(started));
            var store = new ChatStore(options, time, storeLock, state, journal, session, writer,
                recent is null ? null : new JournalReader(journal, recent, options.JournalFilesOpenForReads), report, logger);
            if (replayed > 0 || damagedAt is not null || bytesPastCommit > 0)
            {
                // A checkpoint now puts the replayed records (and any damaged tail) behind the replay point for good.
                await store.CheckpointAsync().ConfigureAwait(false);
            }
            LogRecovery(logger, directory, report);
            return store;
        }
        catch
        {
            prefetch?.Dispose();
            session?.Dispose();
            journal?.Dispose();
            state?.Dispose();
            storeLock.Dispose();
            throw;
        }
    }

    /// <summary>Records replayed per hold of the index's epoch.</summary>
    private const int ReplayStretch = 1024;

    private static (long Replayed, long? DamagedAt) Replay(JournalLog journal, StateMachine machine, long from, ILogger logger)
    {
        long to = journal.CommittedUntilAddress;
        if (from >= to)
        {
            return (0, null);
        }
        long replayed = 0;
        long flushedAt = 0;
        long address = from;
        try
        {
            using FasterLogScanIterator iterator = journal.Scan(from, to);
            for (bool more = true; more;)
            {
                // The index's epoch is held for a stretch of records, not entered per operation (as the writer
                // does per batch), and let go between stretches so the index's page flushes and evictions move on.
                using (machine.HoldEpoch())
                {
                    for (int i = 0; i < ReplayStretch; i++)
                    {
                        if (!iterator.GetNext(MemoryPool<byte>.Shared, out IMemoryOwner<byte> entry, out int length, out long current, out long next))
                        {
                            more = false;
                            break;
                        }
                        using (entry)
                        {
                            address = current;
                            if (!JournalCodec.TryDecode(entry.Memory.Span[..length], out JournalRecord record))
                            {
                                logger.LogError("Journal record at {Address} is not readable; recovery stops before it", current);
                                return (replayed, current);
                            }
                            machine.Apply(record, current);
                            replayed++;
                            address = next;
                        }
                    }
                }
                if (replayed >= flushedAt + StateMachine.CacheLimit)
                {
                    machine.FlushConversations(); // everything replayed is committed
                    flushedAt = replayed;
                }
            }
            // The scan stopped before the committed end: what lies between could not be read.
            return (replayed, iterator.NextAddress < to ? iterator.NextAddress : null);
        }
        catch (Exception ex) when (ex is FasterException or IOException or InvalidOperationException or ArgumentException)
        {
            logger.LogError(ex, "Journal is damaged at {Address}; recovery stops at the last intact record before it", address);
            return (replayed, address);
        }
    }

    private static void LogRecovery(ILogger logger, string directory, RecoveryReport report)
    {
        if (report.BytesPastCommit > 0)
        {
            logger.LogWarning("Store at {Directory}: {Bytes} journal bytes past the last valid commit were ignored " +
                              "(a write torn by the crash, never acknowledged; or, if large, damage that ended the journal early)",
                directory, report.BytesPastCommit);
        }
        if (report.DamagedAt is long damaged)
        {
            logger.LogWarning("Store at {Directory}: journal damaged at address {Address} ({Bytes} bytes after it discarded); recovered every record before it",
                directory, damaged, report.DiscardedBytes);
        }
        logger.LogInformation("Store at {Directory} opened in {Elapsed} ms: {State}, checkpoint {Checkpoint}, {Replayed} journal records replayed",
            directory, (long)report.Elapsed.TotalMilliseconds,
            report.Created ? "new" : report.AfterCrash ? "after a crash" : "after a clean shutdown",
            report.Checkpoint?.ToString() ?? "none", report.Replayed);
    }

    // ---------------------------------------------------------------- writes

    /// <summary>
    /// Appends a message as the next seq of its conversation. With a non-empty <paramref name="clientId"/> seen
    /// from this sender within the dedupe window, nothing is written and the original is returned
    /// (<see cref="WriteStatus.Duplicate"/>). With <paramref name="requireMembership"/>, a sender who is not a
    /// member gets <see cref="WriteStatus.NotMember"/>.
    /// </summary>
    public ValueTask<WriteResult> AppendMessageAsync(long conversation, long sender, ClientMessageId clientId, ReadOnlySpan<byte> body, bool requireMembership = true) =>
        AppendMessageAsync(conversation, sender, 0, clientId, body, requireMembership);

    /// <summary>
    /// Appends a message to the 1:1 conversation of <paramref name="sender"/> and <paramref name="peer"/>, creating
    /// it (both as members, in the same batch) when it has neither member and no message yet. Decided by the
    /// writer, so two first messages of a pair can never both create, and senders never read the index: a pair
    /// whose member records went cold on disk costs no I/O per message. An id held by another pair (a hash
    /// collision: one member of the two, or members but neither of them) is <see cref="WriteStatus.NotMember"/>.
    /// </summary>
    public ValueTask<WriteResult> AppendDirectMessageAsync(long conversation, long sender, long peer, ClientMessageId clientId, ReadOnlySpan<byte> body) =>
        AppendMessageAsync(conversation, sender, peer, clientId, body, requireMembership: true);

    private ValueTask<WriteResult> AppendMessageAsync(long conversation, long sender, long peer, ClientMessageId clientId, ReadOnlySpan<byte> body, bool requireMembership)
    {
        WriteCommand command = RentAppend(conversation, sender, peer, clientId, body.Length, requireMembership);
        command.CopyBody(body);
        return Submit(command);
    }

    private WriteCommand RentAppend(long conversation, long sender, long peer, ClientMessageId clientId, int bodyLength, bool requireMembership)
    {
        if (bodyLength > _options.MaxBodyBytes)
        {
            throw new ArgumentException($"message body of {bodyLength} bytes is over the {_options.MaxBodyBytes}-byte limit", "body");
        }
        WriteCommand command = WriteCommand.Rent(WriteKind.AppendMessage);
        command.Conversation = conversation;
        command.User = sender;
        command.ClientId = clientId;
        command.RequireMembership = requireMembership;
        command.Peer = peer;
        return command;
    }

    public ValueTask<WriteResult> AddMemberAsync(long conversation, long user) => SubmitMembership(WriteKind.AddMember, conversation, user);

    /// <summary>
    /// Creates a conversation with <paramref name="creator"/> and <paramref name="members"/> (duplicates ignored),
    /// only if the id is unused (no member, no message): otherwise <see cref="WriteStatus.Exists"/> and nothing
    /// is written. All its records go into one batch.
    /// </summary>
    public ValueTask<WriteResult> CreateConversationAsync(long conversation, long creator, long[]? members = null)
    {
        WriteCommand command = WriteCommand.Rent(WriteKind.CreateConversation);
        command.Conversation = conversation;
        command.User = creator;
        command.Members = members;
        return Submit(command);
    }

    /// <summary>
    /// Records that <paramref name="user"/> has read <paramref name="conversation"/> up to <paramref name="seq"/>
    /// (clamped to the head). Positions only move forward: an older mark is <see cref="WriteStatus.NoChange"/>.
    /// </summary>
    public ValueTask<WriteResult> MarkReadAsync(long user, long conversation, long seq) => SubmitUserSeq(WriteKind.MarkRead, user, conversation, seq);

    public ValueTask<WriteResult> RemoveMemberAsync(long conversation, long user) => SubmitMembership(WriteKind.RemoveMember, conversation, user);

    /// <summary>Notes that <paramref name="user"/> has not received <paramref name="seq"/> of a conversation (see <see cref="ReadPending"/>).</summary>
    public ValueTask<WriteResult> EnqueuePendingAsync(long user, long conversation, long seq) =>
        SubmitUserSeq(WriteKind.EnqueuePending, user, conversation, seq);

    /// <summary>Removes a user's pending entries before <paramref name="upToPosition"/> and clears the truncation mark.</summary>
    public ValueTask<WriteResult> AckPendingAsync(long user, long upToPosition)
    {
        WriteCommand command = WriteCommand.Rent(WriteKind.AckPending);
        command.User = user;
        command.Seq = upToPosition;
        return Submit(command);
    }

    // ------------------------------------------------ writes told to a callback, in the writer's order

    /// <summary>
    /// Queues a message append whose outcome goes to <paramref name="callback"/> on the writer (see
    /// <see cref="IWriteCallback"/>), as <see cref="AppendMessageAsync"/> (<paramref name="peer"/> 0) or
    /// <see cref="AppendDirectMessageAsync"/> would decide it. The body is read where it is, not copied: it must stay
    /// unchanged until the callback has been told. False when the writer's queue is full
    /// (<see cref="StoreOptions.WriteQueueCapacity"/>) or the store is closing: nothing was queued.
    /// </summary>
    public bool TryAppendMessage(long conversation, long sender, long peer, ClientMessageId clientId, ReadOnlyMemory<byte> body, IWriteCallback callback)
    {
        WriteCommand command = RentAppend(conversation, sender, peer, clientId, body.Length, requireMembership: true);
        command.BorrowBody(body);
        return TrySubmit(command, callback);
    }

    /// <summary>As <see cref="CreateConversationAsync"/>, told to <paramref name="callback"/>; false when not queued (see <see cref="TryAppendMessage"/>).</summary>
    public bool TryCreateConversation(long conversation, long creator, long[] members, IWriteCallback callback)
    {
        WriteCommand command = WriteCommand.Rent(WriteKind.CreateConversation);
        command.Conversation = conversation;
        command.User = creator;
        command.Members = members;
        return TrySubmit(command, callback);
    }

    /// <summary>
    /// Adds (or removes) every one of <paramref name="users"/> (distinct) whose membership would change, in one
    /// command: the result is <see cref="WriteStatus.Ok"/> with Seq = how many changed, and the first Seq entries of
    /// <paramref name="users"/>, rewritten in place, are who; <see cref="WriteStatus.NoChange"/> when none did.
    /// False when not queued (see <see cref="TryAppendMessage"/>).
    /// </summary>
    public bool TryChangeMembers(long conversation, long[] users, bool add, IWriteCallback callback)
    {
        WriteCommand command = WriteCommand.Rent(add ? WriteKind.AddMembers : WriteKind.RemoveMembers);
        command.Conversation = conversation;
        command.Members = users;
        return TrySubmit(command, callback);
    }

    /// <summary>As <see cref="MarkReadAsync"/>, told to <paramref name="callback"/>; false when not queued (see <see cref="TryAppendMessage"/>).</summary>
    public bool TryMarkRead(long user, long conversation, long seq, IWriteCallback callback)
    {
        WriteCommand command = WriteCommand.Rent(WriteKind.MarkRead);
        command.User = user;
        command.Conversation = conversation;
        command.Seq = seq;
        return TrySubmit(command, callback);
    }

    /// <summary>Completes once every write queued before it has been completed, its callback (if any) told.</summary>
    public async Task FlushAsync() => await Submit(WriteCommand.Rent(WriteKind.Barrier)).ConfigureAwait(false);

    private bool TrySubmit(WriteCommand command, IWriteCallback callback)
    {
        command.Callback = callback;
        if (Volatile.Read(ref _disposed) == 0 && _writer.TrySubmit(command))
        {
            return true;
        }
        command.Recycle();
        return false;
    }

    /// <summary>Takes a checkpoint now (between two batches) and truncates the journal behind it.</summary>
    public async Task CheckpointAsync() => await Submit(WriteCommand.Rent(WriteKind.Checkpoint)).ConfigureAwait(false);

    private ValueTask<WriteResult> SubmitMembership(WriteKind kind, long conversation, long user)
    {
        WriteCommand command = WriteCommand.Rent(kind);
        command.Conversation = conversation;
        command.User = user;
        return Submit(command);
    }

    private ValueTask<WriteResult> SubmitUserSeq(WriteKind kind, long user, long conversation, long seq)
    {
        WriteCommand command = WriteCommand.Rent(kind);
        command.User = user;
        command.Conversation = conversation;
        command.Seq = seq;
        return Submit(command);
    }

    private ValueTask<WriteResult> Submit(WriteCommand command)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _writer.SubmitAsync(command);
    }

    // ---------------------------------------------------------------- reads

    public ConversationInfo GetConversation(long conversation)
    {
        using StateStore.Reader reader = _state.RentReader();
        StateSession session = reader.Session;
        ConversationState state = StateQueries.Conversation(session, conversation);
        return new ConversationInfo(conversation, state.Head, EarliestAvailable(session, conversation, state), state.MemberCount, state.LastTimestamp);
    }

    /// <summary>
    /// Reads up to <paramref name="limit"/> committed messages from <paramref name="fromSeq"/> upwards, in order.
    /// A start below what retention still holds sets <see cref="MessagePage.Truncated"/> and starts at the
    /// earliest message held.
    /// </summary>
    public void ReadRange(long conversation, long fromSeq, int limit, MessagePage page)
    {
        using StateStore.Reader reader = _state.RentReader();
        StateSession session = reader.Session;
        ConversationState state = BeginPage(session, conversation, page, out long earliest);
        long from = Math.Max(fromSeq, 1);
        if (from < earliest)
        {
            page.Truncated = true;
            from = earliest;
        }
        long to = Math.Min(state.Head, from + Math.Max(limit, 0) - 1);
        ReadMessages(session, conversation, from, to, page);
        page.HasMore = to < state.Head;
    }

    /// <summary>Reads up to <paramref name="limit"/> committed messages just before <paramref name="beforeSeq"/>, oldest first.</summary>
    public void ReadHistory(long conversation, long beforeSeq, int limit, MessagePage page)
    {
        using StateStore.Reader reader = _state.RentReader();
        StateSession session = reader.Session;
        ConversationState state = BeginPage(session, conversation, page, out long earliest);
        long to = Math.Min(beforeSeq - 1, state.Head);
        long from = to - Math.Max(limit, 0) + 1;
        if (from < earliest)
        {
            page.Truncated = earliest > 1 && to >= 1;
            from = earliest;
        }
        ReadMessages(session, conversation, from, to, page);
        page.HasMore = from > earliest;
    }

    /// <summary>Starts a page: the conversation's committed state, and the earliest seq retention still holds.</summary>
    private ConversationState BeginPage(StateSession session, long conversation, MessagePage page, out long earliest)
    {
        page.Reset();
        ConversationState state = StateQueries.Conversation(session, conversation);
        earliest = EarliestAvailable(session, conversation, state);
        page.Head = state.Head;
        page.EarliestAvailable = earliest;
        return state;
    }

    private void ReadMessages(StateSession session, long conversation, long from, long to, MessagePage page)
    {
        if (_messages is not null)
        {
            ReadFromJournal(_messages, session, conversation, from, to, page);
            return;
        }
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        int valueSize = MessageHeader.Size + _options.MaxBodyBytes;
        for (long seq = from; seq <= to; seq++)
        {
            Span<byte> value = page.Reserve(valueSize);
            int length = session.Read(StateKey.Of(key, KeyKind.Message, conversation, seq), value);
            if (length < MessageHeader.Size)
            {
                page.Truncated = true; // deleted by retention while we read
                continue;
            }
            MessageHeader header = MemoryMarshal.Read<MessageHeader>(value);
            ReadOnlyMemory<byte> body = page.Commit(MessageHeader.Size, length);
            page.Messages.Add(new StoredMessage(conversation, seq, header.Sender, header.Timestamp,
                new ClientMessageId(header.ClientIdHigh, header.ClientIdLow), body));
        }
    }

    /// <summary>Format 4: each message's slot from its block (one index read per 64 seqs), then its record from the journal.</summary>
    private void ReadFromJournal(JournalReader journal, StateSession session, long conversation, long from, long to, MessagePage page)
    {
        Span<MessageSlot> slots = stackalloc MessageSlot[MessageBlock.Seqs];
        int slotCount = 0;
        long block = -1;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(sizeof(int) + JournalCodec.EncodedLength(_options.MaxBodyBytes));
        try
        {
            for (long seq = from; seq <= to; seq++)
            {
                if (MessageBlock.BlockOf(seq) != block)
                {
                    block = MessageBlock.BlockOf(seq);
                    slotCount = StateQueries.ReadMessageBlock(session, conversation, seq, slots);
                }
                int slot = MessageBlock.SlotOf(seq);
                long address = slot < slotCount ? slots[slot].Address : 0;
                if (address == 0)
                {
                    page.Truncated = true; // deleted by retention while we read
                    continue;
                }
                (int start, int length) = journal.Read(address, buffer);
                if (!JournalCodec.TryDecode(buffer.AsSpan(start, length), out JournalRecord record)
                    || record.Kind != RecordKind.MessageAppended || record.Conversation != conversation || record.Seq != seq)
                {
                    if (length > 0)
                    {
                        ReportUnreadable(conversation, seq, address);
                    }
                    page.Truncated = true; // its journal segment aged out (retention) or is damaged
                    continue;
                }
                Span<byte> value = page.Reserve(record.Body.Length);
                record.Body.CopyTo(value);
                page.Messages.Add(new StoredMessage(conversation, seq, record.User, record.Timestamp, record.ClientId, page.Commit(0, record.Body.Length)));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private long _unreadable;
    private long _unreadableReportedAt = long.MinValue / 2;

    /// <summary>
    /// Logs a message whose journal record is damaged, at most once a minute with the count since the last report:
    /// every read of a damaged stretch meets it again, and a log line per message read would drown the log.
    /// </summary>
    private void ReportUnreadable(long conversation, long seq, long address)
    {
        Interlocked.Increment(ref _unreadable);
        long now = Environment.TickCount64;
        long last = Volatile.Read(ref _unreadableReportedAt);
        if (now - last < 60_000 || Interlocked.CompareExchange(ref _unreadableReportedAt, now, last) != last)
        {
            return;
        }
        _logger.LogError("Store: message {Conversation}/{Seq} is not readable at journal address {Address} (damaged); reported to readers as " +
                         "truncated. {Count} unreadable message reads since the last such report (at most one a minute)",
            conversation, seq, address, Interlocked.Exchange(ref _unreadable, 0));
    }

    /// <summary>
    /// The lowest seq still served: the count limit's EarliestSeq, raised past messages older than the age
    /// limit. Timestamps never decrease within a conversation, so the first young enough message is found
    /// by binary search (a missing message counts as too old).
    /// </summary>
    private long EarliestAvailable(StateSession session, long conversation, in ConversationState state)
    {
        long earliest = state.EarliestSeq;
        long head = state.Head;
        if (_options.RetainMessagesFor <= TimeSpan.Zero || earliest > head)
        {
            return earliest;
        }
        long cutoff = _time.GetUtcNow().ToUnixTimeMilliseconds() - (long)_options.RetainMessagesFor.TotalMilliseconds;
        bool blocks = _messages is not null;
        bool Young(long seq) => blocks
            ? StateQueries.TryGetMessageSlot(session, conversation, seq, out MessageSlot slot) && slot.Timestamp >= cutoff
            : StateQueries.TryGetMessageHeader(session, conversation, seq, out MessageHeader h) && h.Timestamp >= cutoff;
        if (Young(earliest))
        {
            return earliest;
        }
        long low = earliest + 1;
        long high = head + 1; // head + 1: nothing young enough is left
        while (low < high)
        {
            long middle = low + (high - low) / 2;
            if (Young(middle))
            {
                high = middle;
            }
            else
            {
                low = middle + 1;
            }
        }
        return low;
    }

    /// <summary>The highest seq <paramref name="user"/> marked read in <paramref name="conversation"/>; 0 when none.</summary>
    public long GetReadPosition(long user, long conversation)
    {
        using StateStore.Reader reader = _state.RentReader();
        return StateQueries.ReadPosition(reader.Session, user, conversation);
    }

    /// <summary>When <paramref name="user"/> joined <paramref name="conversation"/> (Unix ms), or null when not a member.</summary>
    public long? GetJoinedAt(long conversation, long user)
    {
        using StateStore.Reader reader = _state.RentReader();
        return StateQueries.TryGetMember(reader.Session, conversation, user, out long joinedAt) ? joinedAt : null;
    }

    public bool IsMember(long conversation, long user)
    {
        using StateStore.Reader reader = _state.RentReader();
        StateSession session = reader.Session;
        return StateQueries.IsMember(session, conversation, user);
    }

    /// <summary>Fills <paramref name="members"/> with the conversation's members (in no particular order).</summary>
    public void GetMembers(long conversation, List<long> members)
    {
        members.Clear();
        using StateStore.Reader reader = _state.RentReader();
        StateSession session = reader.Session;
        StateQueries.ReadList(session, KeyKind.MemberAt, conversation, StateQueries.Conversation(session, conversation).MemberCount, members);
    }

    /// <summary>Fills <paramref name="conversations"/> with the conversations a user is a member of.</summary>
    public void GetConversationsOf(long user, List<long> conversations)
    {
        conversations.Clear();
        using StateStore.Reader reader = _state.RentReader();
        StateSession session = reader.Session;
        StateQueries.ReadList(session, KeyKind.UserConversationAt, user, StateQueries.User(session, user).ConversationCount, conversations);
    }

    /// <summary>Reads up to <paramref name="max"/> entries of a user's pending queue, oldest first.</summary>
    public void ReadPending(long user, int max, PendingPage page)
    {
        page.Reset();
        long expiredBefore = _time.GetUtcNow().ToUnixTimeMilliseconds() - (long)_options.PendingTtl.TotalMilliseconds;
        using StateStore.Reader reader = _state.RentReader();
        StateSession session = reader.Session;
        PendingHeader header = StateQueries.PendingHeader(session, user);
        page.Dropped = header.Dropped;
        long position = header.Head;
        for (; position < header.Tail && page.Items.Count < max; position++)
        {
            if (StateQueries.TryGetPendingEntry(session, user, position, out PendingEntry entry))
            {
                page.Items.Add(new PendingItem(position, entry.Conversation, entry.FromSeq, entry.ToSeq, entry.LastAt, entry.LastAt < expiredBefore));
            }
        }
        page.NextPosition = position;
        page.HasMore = position < header.Tail;
    }

    // ---------------------------------------------------------------- presence

    /// <summary>
    /// Records a user's last heartbeat and status. Not journaled (written often, and a few seconds lost in a
    /// crash are acceptable): it survives a clean restart and reaches the disk with the next checkpoint.
    /// </summary>
    public void SetPresence(long user, long lastSeenUnixMs, int status)
    {
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        using StateStore.Reader reader = _state.RentReader();
        StateSession session = reader.Session;
        session.Upsert(StateKey.Of(key, KeyKind.Presence, user), new PresenceRecord { LastSeen = lastSeenUnixMs, Status = status });
    }

    public bool TryGetPresence(long user, out PresenceInfo presence)
    {
        presence = default;
        Span<byte> key = stackalloc byte[StateKey.MaxLength];
        using StateStore.Reader reader = _state.RentReader();
        StateSession session = reader.Session;
        if (!session.TryRead(StateKey.Of(key, KeyKind.Presence, user), out PresenceRecord record))
        {
            return false;
        }
        presence = new PresenceInfo(user, record.LastSeen, (int)record.Status);
        return true;
    }

    /// <summary>
    /// Finishes queued writes, commits, checkpoints, and releases the directory. Every file is closed and
    /// the lock released even when a step fails (a faulted store's devices may refuse to flush); such
    /// failures are logged, not thrown: what was acknowledged is in the journal either way.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        try
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Store shutdown could not finish its checkpoint; the next open replays the journal");
        }
        foreach (IDisposable? part in new IDisposable?[] { _messages, _writerSession, _journal, _state, _lock })
        {
            try
            {
                part?.Dispose();
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Store shutdown: closing {Part} failed", part!.GetType().Name);
            }
        }
    }
}

/// <summary>What <see cref="ChatStore.OpenAsync"/> found and did.</summary>
/// <param name="Created">The directory held no store.</param>
/// <param name="AfterCrash">The previous process did not close the store cleanly.</param>
/// <param name="Checkpoint">The index checkpoint recovery started from.</param>
/// <param name="Replayed">Journal records applied after that checkpoint.</param>
/// <param name="DamagedAt">Journal address where unreadable data began, if any; nothing from there on was recovered.</param>
/// <param name="DiscardedBytes">Committed journal bytes after the damage.</param>
/// <param name="BytesPastCommit">
/// Bytes in the journal files past the last commit FASTER could validate: a batch torn by the crash (never
/// acknowledged), or damage to a commit record, which makes the journal end at the commit before it.
/// </param>
public sealed record RecoveryReport(bool Created, bool AfterCrash, Guid? Checkpoint, long Replayed, long? DamagedAt, long DiscardedBytes,
    long BytesPastCommit, TimeSpan Elapsed);
