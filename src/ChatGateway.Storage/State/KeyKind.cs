namespace ChatGateway.Storage.State;

/// <summary>First byte of every index key: which table the key belongs to. On disk: never renumber.</summary>
internal enum KeyKind : byte
{
    Conversation = 1,        // [conv]              -> ConversationState
    Message = 2,             // [conv][seq]         -> MessageHeader + body
    Dedupe = 3,              // [sender][client id] -> DedupeEntry
    Member = 4,              // [conv][user]        -> MemberEntry (position in the member list)
    MemberAt = 5,            // [conv][index]       -> LongValue (user)
    UserConversation = 6,    // [user][conv]        -> LongValue (position in the user's list)
    UserConversationAt = 7,  // [user][index]       -> LongValue (conv)
    User = 8,                // [user]              -> UserState
    PendingHeader = 9,       // [user]              -> PendingHeader
    PendingEntry = 10,       // [user][position]    -> PendingEntry
    PendingByConversation = 11, // [user][conv]     -> LongValue (position of that conversation's entry)
    Presence = 12,           // [user]              -> PresenceRecord (not journaled)
    ReadPosition = 13,       // [user][conv]        -> LongValue (highest seq the user marked read)
}
