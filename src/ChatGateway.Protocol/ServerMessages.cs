namespace ChatGateway.Protocol;

// Server messages decoded into objects, for clients (the .NET SDK, tests). The server never builds these:
// it writes with ServerMessageWriter.

public abstract record ServerMessage;

/// <summary>Answers that carry the request id of the request they answer.</summary>
public interface IReply
{
    uint RequestId { get; }
}

/// <summary>A message as delivered or synced. <see cref="ClientMessageId"/> is the sender's id, zero-padded to 16 bytes (all zero: none).</summary>
public sealed record ChatMessage(long Conversation, long Seq, long Sender, long Timestamp, Guid ClientMessageId, byte[] Body);

public sealed record HelloMessage(HelloFields Fields) : ServerMessage;

public sealed record AckMessage(uint RequestId, long Conversation, long Seq, long Timestamp, bool Duplicate) : ServerMessage, IReply;

public sealed record DeliverMessage(ChatMessage Message) : ServerMessage;

public sealed record SyncResultMessage(uint RequestId, long Conversation, long Head, long Earliest, bool Truncated, bool HasMore,
    IReadOnlyList<ChatMessage> Messages) : ServerMessage, IReply;

public sealed record ConversationListMessage(uint RequestId, IReadOnlyList<ConversationSummary> Conversations, long NextCursor) : ServerMessage, IReply;

/// <summary>One conversation with messages the user has not received on any device.</summary>
public readonly record struct PendingConversation(long Conversation, long FromSeq, long ToSeq, bool Expired);

public sealed record PendingMessage(IReadOnlyList<PendingConversation> Conversations, bool Truncated, byte[] Cursor, bool HasMore) : ServerMessage;

public sealed record ReceiptMessage(long Conversation, long User, long Seq) : ServerMessage;

public sealed record TypingMessage(long Conversation, long User) : ServerMessage;

public sealed record MembershipMessage(long Conversation, MembershipChange Change, long Actor, IReadOnlyList<long> Users) : ServerMessage;

public sealed record ErrorMessage(uint RequestId, string Code, string Text) : ServerMessage, IReply;

public sealed record OkMessage(uint RequestId, long Value) : ServerMessage, IReply;

public sealed record PresenceResultMessage(uint RequestId, IReadOnlyList<PresenceEntry> Entries, IReadOnlyList<long> Refused) : ServerMessage, IReply;

public sealed record PresenceEventMessage(IReadOnlyList<PresenceEntry> Changes) : ServerMessage;
