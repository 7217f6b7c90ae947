using ChatGateway.Protocol;

namespace ChatGateway.Client;

/// <summary>What <see cref="ChatClient.Events"/> yields. Messages of one conversation come in seq order, without gaps or repeats.</summary>
public abstract record ChatEvent;

/// <summary>A message from another session (of anyone, including this user's other devices), delivered live or caught up by sync.</summary>
public sealed record MessageEvent(ChatMessage Message) : ChatEvent;

/// <summary>History before <see cref="Earliest"/> is gone (retention or an overflowed queue): seqs below it will never arrive.</summary>
public sealed record HistoryTruncatedEvent(long Conversation, long Earliest) : ChatEvent;

public sealed record ReceiptEvent(long Conversation, long User, long Seq) : ChatEvent;

public sealed record TypingEvent(long Conversation, long User) : ChatEvent;

public sealed record MembershipEvent(long Conversation, MembershipChange Change, long Actor, IReadOnlyList<long> Users) : ChatEvent;

/// <summary>A session is open (first connect or a reconnect); catch-up follows.</summary>
public sealed record ConnectedEvent(HelloFields Hello, bool Reconnected) : ChatEvent;

/// <summary>The connection ended. <see cref="WillReconnect"/> false: the client stopped (see <see cref="CloseCode"/>).</summary>
public sealed record DisconnectedEvent(int? CloseCode, string? Reason, bool WillReconnect) : ChatEvent;

/// <summary>Catch-up after a (re)connect finished: every conversation is at its head as of then.</summary>
public sealed record CaughtUpEvent(int Conversations) : ChatEvent;

/// <summary>Subscribed users whose presence changed (one entry per user, the latest).</summary>
public sealed record PresenceChangedEvent(IReadOnlyList<PresenceEntry> Changes) : ChatEvent;
