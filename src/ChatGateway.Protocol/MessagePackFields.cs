using System.Buffers;
using System.Text;
using MessagePack;

namespace ChatGateway.Protocol;

/// <summary>Field readers shared by both directions: typed reads with the protocol's own checks.</summary>
public static class MessagePackFields
{
    /// <summary>Reads the array header of a message and its type; returns the number of fields after the type.</summary>
    public static int ReadEnvelope(ref MessagePackReader reader, out MessageType type)
    {
        if (reader.NextMessagePackType != MessagePackType.Array)
        {
            throw new ProtocolException(ErrorCode.Malformed, "a message is a MessagePack array");
        }
        int count = reader.ReadArrayHeader();
        if (count < 1)
        {
            throw new ProtocolException(ErrorCode.Malformed, "a message starts with its type");
        }
        if (reader.NextMessagePackType != MessagePackType.Integer)
        {
            throw new ProtocolException(ErrorCode.Malformed, "the first element of a message is its type, an integer");
        }
        type = (MessageType)reader.ReadByte();
        return count - 1;
    }

    public static long ReadInt64(ref MessagePackReader reader, string field)
    {
        if (reader.NextMessagePackType != MessagePackType.Integer)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"{field} must be an integer");
        }
        return reader.ReadInt64();
    }

    public static bool ReadBoolean(ref MessagePackReader reader, string field)
    {
        if (reader.NextMessagePackType != MessagePackType.Boolean)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"{field} must be a boolean");
        }
        return reader.ReadBoolean();
    }

    /// <summary>A bin field (nil reads as empty).</summary>
    public static ReadOnlySequence<byte> ReadBinary(ref MessagePackReader reader, string field)
    {
        MessagePackType next = reader.NextMessagePackType;
        if (next == MessagePackType.Nil)
        {
            reader.ReadNil();
            return ReadOnlySequence<byte>.Empty;
        }
        if (next != MessagePackType.Binary)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"{field} must be binary (bin 8/16/32)");
        }
        return reader.ReadBytes() ?? ReadOnlySequence<byte>.Empty;
    }

    public static string ReadString(ref MessagePackReader reader, string field, int maxBytes)
    {
        if (reader.NextMessagePackType != MessagePackType.String)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"{field} must be a string");
        }
        ReadOnlySequence<byte> bytes = reader.ReadStringSequence() ?? ReadOnlySequence<byte>.Empty;
        if (bytes.Length > maxBytes)
        {
            throw new ProtocolException(ErrorCode.BadRequest, $"{field} is longer than {maxBytes} bytes");
        }
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Reads an array of user ids into <paramref name="items"/>, refusing more than <paramref name="max"/>.</summary>
    public static void ReadInt64Array(ref MessagePackReader reader, string field, int max, List<long> items)
    {
        List<long>? list = items;
        ReadInt64Array(ref reader, field, max, ref list);
    }

    /// <summary>As above, into <paramref name="items"/>, created here when null (a caller that rarely reads a list keeps none).</summary>
    public static void ReadInt64Array(ref MessagePackReader reader, string field, int max, ref List<long>? items)
    {
        items?.Clear();
        if (reader.NextMessagePackType != MessagePackType.Array)
        {
            throw new ProtocolException(ErrorCode.Malformed, $"{field} must be an array");
        }
        int count = reader.ReadArrayHeader();
        if (count > max)
        {
            throw new ProtocolException(ErrorCode.BadRequest, $"{field} holds {count} items, more than {max}");
        }
        items ??= new List<long>(Math.Min(count, 16)); // the declared count is not trusted with memory before the items arrive
        for (int i = 0; i < count; i++)
        {
            items.Add(ReadInt64(ref reader, field));
        }
    }

    /// <summary>Skips <paramref name="count"/> values this version does not know, with a bounded depth.</summary>
    public static void SkipFields(ref MessagePackReader reader, int count)
    {
        for (int i = 0; i < count; i++)
        {
            Skip(ref reader, 0);
        }
    }

    private static void Skip(ref MessagePackReader reader, int depth)
    {
        if (depth >= ProtocolLimits.MaxSkipDepth)
        {
            throw new ProtocolException(ErrorCode.Malformed, "values nested too deeply");
        }
        switch (reader.NextMessagePackType)
        {
            case MessagePackType.Array:
                int items = reader.ReadArrayHeader();
                for (int i = 0; i < items; i++)
                {
                    Skip(ref reader, depth + 1);
                }
                break;
            case MessagePackType.Map:
                int pairs = reader.ReadMapHeader();
                for (int i = 0; i < pairs; i++)
                {
                    Skip(ref reader, depth + 1);
                    Skip(ref reader, depth + 1);
                }
                break;
            default:
                reader.Skip(); // a scalar: no recursion
                break;
        }
    }
}
