using ChatGateway.Protocol;

namespace ChatGateway.Server.Messaging;

/// <summary>
/// The id of the 1:1 conversation of two users: a 62-bit mix of the ordered pair with
/// <see cref="ConversationId.DirectFlag"/> set. Ids are not secret (membership guards every access); a
/// collision with another pair (~n²/2^63) is detected on creation and refused, never shared.
/// </summary>
public static class DirectConversation
{
    public static long IdOf(long userA, long userB)
    {
        long low = Math.Min(userA, userB);
        long high = Math.Max(userA, userB);
        ulong mixed = Mix(Mix((ulong)low) ^ (ulong)high * 0x9E3779B97F4A7C15UL);
        return (long)(mixed & (ConversationId.DirectFlag - 1)) | ConversationId.DirectFlag;
    }

    // splitmix64 finaliser
    private static ulong Mix(ulong x)
    {
        x ^= x >> 30;
        x *= 0xBF58476D1CE4E5B9UL;
        x ^= x >> 27;
        x *= 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
