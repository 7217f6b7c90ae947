using System.Buffers;

namespace ChatGateway.Protocol;

/// <summary>
/// One decoded client request. A flat struct rather than a class per type, so decoding allocates nothing:
/// which fields are set depends on <see cref="Type"/> (docs/protocol.md, "Client messages").
/// <see cref="ClientMessageId"/> and <see cref="Body"/> point into the frame they were read from and are
/// valid only as long as it is.
/// </summary>
public struct ClientRequest
{
    public MessageType Type;
    /// <summary>Chosen by the client, echoed in the answer (Ack, Ok, Error, SyncResult, ConversationList).</summary>
    public uint RequestId;
    public long Conversation;
    /// <summary>Send: the peer of a 1:1 conversation (0 when <see cref="Conversation"/> is given).</summary>
    public long ToUser;
    /// <summary>Sync: after this seq. History: before this seq (0 = from the head). Read: up to this seq.</summary>
    public long Seq;
    /// <summary>ListConversations: only conversations changed or joined at or after this time (Unix ms; 0 = all).</summary>
    public long Since;
    /// <summary>ListConversations: where to continue (0 = start).</summary>
    public long Cursor;
    public int Limit;
    public ReadOnlySequence<byte> ClientMessageId;
    public ReadOnlySequence<byte> Body;
    /// <summary>AckPending: the cursor of the Pending message being acknowledged.</summary>
    public ReadOnlySequence<byte> PendingCursor;
    /// <summary>SetStatus: the declared status.</summary>
    public DeclaredStatus Status;
    /// <summary>RefreshToken: the new token.</summary>
    public string? Token;
}
