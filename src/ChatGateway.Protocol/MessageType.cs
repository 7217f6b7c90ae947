namespace ChatGateway.Protocol;

/// <summary>
/// First element of every message's array. Client requests are 1–63, server messages 64–127.
/// Values are on the wire: never renumber, only add.
/// </summary>
public enum MessageType : byte
{
    // client -> server
    Send = 1,
    Sync = 2,
    History = 3,
    ListConversations = 4,
    CreateGroup = 5,
    AddMembers = 6,
    RemoveMembers = 7,
    Leave = 8,
    Read = 9,
    Typing = 10,
    Heartbeat = 11,
    RefreshToken = 12,
    AckPending = 13,
    PresenceQuery = 14,
    PresenceSubscribe = 15,
    PresenceUnsubscribe = 16,
    SetStatus = 17,

    // server -> client
    Hello = 64,
    Ack = 65,
    Deliver = 66,
    SyncResult = 67,
    ConversationList = 68,
    Pending = 69,
    Receipt = 70,
    TypingEvent = 71,
    MembershipEvent = 72,
    Error = 73,
    Ok = 74,
    PresenceResult = 75,
    PresenceEvent = 76,
}
