using System.Buffers;
using MessagePack;
using static ChatGateway.Protocol.MessagePackFields;

namespace ChatGateway.Protocol;

/// <summary>
/// Decodes client requests (docs/protocol.md, "Client messages"). Allocates nothing except the string of a
/// RefreshToken: ids and bodies are slices of the frame, member lists go into a list the caller reuses.
/// Hostile input (truncation, wrong types, huge declared lengths, deep nesting) ends in a
/// <see cref="ProtocolException"/>, never in a large allocation or a deep recursion.
/// </summary>
public static class ClientRequestReader
{
    /// <summary>
    /// Decodes one frame. <paramref name="members"/> receives the user list of CreateGroup/AddMembers/RemoveMembers and
    /// of the presence requests; it is created when null and such a list comes (a session that never sends one keeps none).
    /// </summary>
    /// <param name="maxMembers">The longest user list accepted (members, presence users).</param>
    /// <param name="requestId">The request id when it could be read (to address an error), else 0.</param>
    public static ClientRequest Read(in ReadOnlySequence<byte> frame, ref List<long>? members, int maxMembers, out uint requestId)
    {
        if (SendFastReader.TryRead(frame, out ClientRequest send))
        {
            requestId = send.RequestId;
            return send;
        }
        return ReadAny(frame, ref members, maxMembers, out requestId);
    }

    /// <summary>The general reader: every request type, every encoding MessagePack allows, and every error.</summary>
    internal static ClientRequest ReadAny(in ReadOnlySequence<byte> frame, ref List<long>? members, int maxMembers, out uint requestId)
    {
        requestId = 0;
        var reader = new MessagePackReader(frame);
        try
        {
            int fields = ReadEnvelope(ref reader, out MessageType type);
            if (fields < 1)
            {
                throw new ProtocolException(ErrorCode.Malformed, "a request carries a request id after its type");
            }
            var request = new ClientRequest { Type = type };
            long rid = ReadInt64(ref reader, "request id");
            if (rid is < 0 or > uint.MaxValue)
            {
                throw new ProtocolException(ErrorCode.Malformed, "the request id is an unsigned 32-bit integer");
            }
            request.RequestId = requestId = (uint)rid;
            fields--;
            int needed = type switch
            {
                MessageType.Send => 4,
                MessageType.Sync or MessageType.History => 3,
                MessageType.ListConversations => 3,
                MessageType.CreateGroup => 1,
                MessageType.AddMembers or MessageType.RemoveMembers => 2,
                MessageType.Leave or MessageType.Typing => 1,
                MessageType.Read => 2,
                MessageType.Heartbeat => 0,
                MessageType.RefreshToken => 1,
                MessageType.AckPending => 1,
                MessageType.PresenceQuery or MessageType.PresenceSubscribe or MessageType.PresenceUnsubscribe => 1,
                MessageType.SetStatus => 1,
                _ => throw new ProtocolException(ErrorCode.Malformed, $"unknown request type {(int)type}"),
            };
            if (fields < needed)
            {
                throw new ProtocolException(ErrorCode.Malformed, $"{type} has {needed} fields after the request id, got {fields}");
            }
            switch (type)
            {
                case MessageType.Send:
                    request.Conversation = ReadInt64(ref reader, "conversation");
                    request.ToUser = ReadInt64(ref reader, "to_user");
                    request.ClientMessageId = ReadBinary(ref reader, "client_message_id");
                    request.Body = ReadBinary(ref reader, "body");
                    if (request.ClientMessageId.Length > ProtocolLimits.MaxClientMessageIdBytes)
                    {
                        throw new ProtocolException(ErrorCode.BadRequest, "client_message_id is at most 16 bytes");
                    }
                    break;
                case MessageType.Sync:
                case MessageType.History:
                    request.Conversation = ReadInt64(ref reader, "conversation");
                    request.Seq = ReadInt64(ref reader, type == MessageType.Sync ? "after_seq" : "before_seq");
                    request.Limit = ReadLimit(ref reader);
                    break;
                case MessageType.ListConversations:
                    request.Since = ReadInt64(ref reader, "changed_since");
                    request.Cursor = ReadInt64(ref reader, "cursor");
                    request.Limit = ReadLimit(ref reader);
                    break;
                case MessageType.CreateGroup:
                    ReadInt64Array(ref reader, "members", maxMembers, ref members);
                    break;
                case MessageType.AddMembers:
                case MessageType.RemoveMembers:
                    request.Conversation = ReadInt64(ref reader, "conversation");
                    ReadInt64Array(ref reader, "members", maxMembers, ref members);
                    break;
                case MessageType.Leave:
                case MessageType.Typing:
                    request.Conversation = ReadInt64(ref reader, "conversation");
                    break;
                case MessageType.Read:
                    request.Conversation = ReadInt64(ref reader, "conversation");
                    request.Seq = ReadInt64(ref reader, "seq");
                    break;
                case MessageType.RefreshToken:
                    request.Token = ReadString(ref reader, "token", ProtocolLimits.MaxTokenBytes);
                    break;
                case MessageType.AckPending:
                    request.PendingCursor = ReadBinary(ref reader, "cursor");
                    break;
                case MessageType.PresenceQuery:
                case MessageType.PresenceSubscribe:
                case MessageType.PresenceUnsubscribe:
                    ReadInt64Array(ref reader, "users", maxMembers, ref members);
                    break;
                case MessageType.SetStatus:
                    long status = ReadInt64(ref reader, "status");
                    if (status is < 0 or > (long)DeclaredStatus.Away)
                    {
                        throw new ProtocolException(ErrorCode.BadRequest, "status: 0 (auto) or 1 (away)");
                    }
                    request.Status = (DeclaredStatus)status;
                    break;
            }
            SkipFields(ref reader, fields - needed);
            if (!reader.End)
            {
                throw new ProtocolException(ErrorCode.Malformed, "bytes after the end of the message");
            }
            return request;
        }
        // The decoder does no I/O: anything it throws on hostile bytes (short reads, overflowing lengths such as a
        // bin32 of 4 GiB, which MessagePackReader turns into a negative slice) means the frame is malformed.
        catch (Exception ex) when (ex is not ProtocolException and not OutOfMemoryException)
        {
            throw new ProtocolException(ErrorCode.Malformed, "not a well-formed MessagePack message: " + ex.Message);
        }
    }

    private static int ReadLimit(ref MessagePackReader reader)
    {
        long limit = ReadInt64(ref reader, "limit");
        return (int)Math.Clamp(limit, 0, int.MaxValue);
    }
}
