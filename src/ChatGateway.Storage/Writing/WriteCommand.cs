using System.Buffers;
using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;

namespace ChatGateway.Storage.Writing;

/// <summary>
/// One request to the writer, and the awaitable its caller waits on. Pooled: a command goes back to the
/// pool when its result is read, so steady-state writes allocate nothing but a rented body buffer.
/// Continuations run asynchronously, so completing a batch never runs callers' code on the writer.
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
    public byte[]? Body;
    public int BodyLength;

    public ReadOnlySpan<byte> BodySpan => Body.AsSpan(0, BodyLength);

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
        if (Body is null || Body.Length < body.Length)
        {
            ReturnBuffer();
            Body = ArrayPool<byte>.Shared.Rent(Math.Max(body.Length, KeptBodyBytes / 2));
        }
        body.CopyTo(Body);
        BodyLength = body.Length;
    }

    /// <summary>
    /// The body is in the journal and the index once the writer has processed the command. A small buffer stays
    /// with the pooled command for its next body: renting one from the shared ArrayPool per message churned once
    /// thousands were in flight (its per-core stacks ran dry). Larger ones go back to the pool.
    /// </summary>
    public void ReleaseBody()
    {
        BodyLength = 0;
        if (Body is { Length: > KeptBodyBytes })
        {
            ReturnBuffer();
        }
    }

    private void ReturnBuffer()
    {
        if (Body is not null)
        {
            ArrayPool<byte>.Shared.Return(Body);
            Body = null;
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
            ReleaseBody();
            Conversation = User = Seq = Peer = 0;
            ClientId = default;
            RequireMembership = false;
            Members = null;
            if (Pool.Count < MaxPooled)
            {
                Pool.Enqueue(this);
            }
            else
            {
                ReturnBuffer();
            }
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
