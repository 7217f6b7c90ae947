using System.Buffers;
using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;

namespace ChatGateway.Storage.Writing;

/// <summary>
/// One request to the writer, and how its caller learns the outcome: either the awaitable it waits on, or an
/// <see cref="IWriteCallback"/> the writer calls in order. Pooled: a command goes back to the pool when its result
/// is read (awaited) or just before its callback runs, so steady-state writes allocate nothing but a rented body
/// buffer. Awaiters' continuations run asynchronously, so completing a batch runs no awaiting caller's code on the
/// writer; callbacks are the way to run code there on purpose.
/// </summary>
internal sealed class WriteCommand : IValueTaskSource<WriteResult>
{
    private static readonly ConcurrentQueue<WriteCommand> Pool = new();
    /// <summary>Bounded: 16,384 pooled commands × at most <see cref="KeptBodyBytes"/> kept body bytes.</summary>
    private const int MaxPooled = 16_384;
    private const int KeptBodyBytes = 1024;
    private ManualResetValueTaskSourceCore<WriteResult> _core = new() { RunContinuationsAsynchronously = true };

    public WriteKind Kind;
    public long Conversation;
    public long User;
    public long Seq;
    public ClientMessageId ClientId;
    public bool RequireMembership;
    /// <summary>AppendMessage to a 1:1 conversation: the other user of the pair (see StoreWriter.JoinDirect).</summary>
    public long Peer;
    /// <summary>CreateConversation: members besides the creator.</summary>
    public long[]? Members;
    /// <summary>Told the outcome instead of an awaiter (see <see cref="IWriteCallback"/>).</summary>
    public IWriteCallback? Callback;
    // The body the writer reads: a copy in the command's own buffer (CopyBody), or the caller's memory (BorrowBody).
    private ReadOnlyMemory<byte> _body;
    private byte[]? _buffer;

    public ReadOnlySpan<byte> BodySpan => _body.Span;

    public static WriteCommand Rent(WriteKind kind)
    {
        if (!Pool.TryDequeue(out WriteCommand? command))
        {
            command = new WriteCommand();
        }
        command.Kind = kind;
        return command;
    }

    public void CopyBody(ReadOnlySpan<byte> body)
    {
        if (_buffer is null || _buffer.Length < body.Length)
        {
            ReturnBuffer();
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(body.Length, KeptBodyBytes / 2));
        }
        body.CopyTo(_buffer);
        _body = _buffer.AsMemory(0, body.Length);
    }

    /// <summary>
    /// Reads the body from the caller's memory, which stays valid until the callback has run: a callback's caller
    /// keeps its body alive until told the outcome, so the writer reads it where it is, with no copy.
    /// </summary>
    public void BorrowBody(ReadOnlyMemory<byte> body) => _body = body;

    /// <summary>
    /// The body is in the journal and the index once the writer has processed the command. A small buffer stays
    /// with the pooled command for its next body: renting one from the shared ArrayPool per message churned once
    /// thousands were in flight (its per-core stacks ran dry). Larger ones go back to the pool.
    /// </summary>
    public void ReleaseBody()
    {
        _body = default;
        if (_buffer is { Length: > KeptBodyBytes })
        {
            ReturnBuffer();
        }
    }

    private void ReturnBuffer()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }

    public ValueTask<WriteResult> AsValueTask() => new(this, _core.Version);

    public void Complete(WriteResult result) => _core.SetResult(result);

    public void Fail(Exception error) => _core.SetException(error);

    public WriteResult GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            Recycle();
        }
    }

    /// <summary>Back to the pool: after its result was read, or before its callback runs (which must not touch it).</summary>
    public void Recycle()
    {
        ReleaseBody();
        Conversation = User = Seq = Peer = 0;
        ClientId = default;
        RequireMembership = false;
        Members = null;
        Callback = null;
        if (Pool.Count < MaxPooled)
        {
            Pool.Enqueue(this);
        }
        else
        {
            ReturnBuffer();
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
