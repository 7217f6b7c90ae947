namespace ChatGateway.Storage.State;

/// <summary>First byte of every index key: which table the key belongs to. On disk: never renumber.</summary>
internal enum KeyKind : byte
{
    Conversation = 1,        // [conv]              -> ConversationState
    Message = 2,             // [conv][seq]         -> MessageHeader + body (formats 2 and 3)
    Dedupe = 3,              // [sender][client id] -> DedupeEntry (formats 2 and 3)
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
    MessageBlock = 14,       // [conv][seq / 64]    -> MessageSlot per seq (format 4: journal address and timestamp; bodies stay in the journal)
    DedupeBlock = 15,        // [sender][client id / 64] -> DedupeBlock (format 4: up to 64 ids' entries)
}
