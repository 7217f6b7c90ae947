namespace ChatGateway.Protocol;

/// <summary>
/// Conversation ids are positive 64-bit integers. Bit 62 marks a 1:1 conversation, whose id the server
/// derives from the pair of users; groups get random ids with bit 62 clear.
/// </summary>
public static class ConversationId
{
    public const long DirectFlag = 1L << 62;

    public static bool IsDirect(long conversation) => (conversation & DirectFlag) != 0;

    public static bool IsValid(long conversation) => conversation > 0;
}
