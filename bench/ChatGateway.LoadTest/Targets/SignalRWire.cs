using System.Buffers;
using System.Net;
using System.Text;
using ChatGateway.LoadTest.Client;
using MessagePack;

namespace ChatGateway.LoadTest.Targets;

/// <summary>
/// SignalR's MessagePack hub protocol over the WebSocket transport, negotiation skipped: after the upgrade the JSON
/// handshake <c>{"protocol":"messagepack","version":1}\x1e</c>, then messages framed by a VarInt length, each a
/// MessagePack array: invocation <c>[1, headers, id, target, args, streamIds]</c>, completion
/// <c>[3, headers, id, kind, result]</c> (the ack of Send), ping <c>[6]</c>. The messages are a stream carried by
/// WebSocket frames: a frame may hold several, and a message may be split over two frames (the tail waits in
/// <see cref="LoadConnection.Carry"/> for the next frame).
/// </summary>
public sealed class SignalRWire : Wire
{
    private static readonly byte[] Handshake = Encoding.UTF8.GetBytes("{\"protocol\":\"messagepack\",\"version\":1}\u001e");
    private const int InvocationType = 1;
    private const int CompletionType = 3;

    public override async Task<LoadConnection> ConnectAsync(IPEndPoint server, long user, CancellationToken cancellationToken)
    {
        LoadConnection connection = await LoadConnection.ConnectWebSocketAsync(server, "/hub?user=" + user, cancellationToken);
        connection.Append(Handshake);
        await connection.FlushAsync(cancellationToken);
        (bool open, ReadOnlyMemory<byte> answer) = await connection.ReceiveAsync(cancellationToken); // "{}\x1e", or an error
        if (!open || answer.Length < 3 || answer.Span[0] != (byte)'{' || answer.Span[1] != (byte)'}')
        {
            connection.Dispose();
            throw new IOException("SignalR handshake refused: " + Encoding.UTF8.GetString(answer.Span));
        }
        return connection;
    }

    public override void WriteSend(IBufferWriter<byte> output, long to, long id, ReadOnlySpan<byte> body)
    {
        Span<byte> invocationId = stackalloc byte[20];
        System.Buffers.Text.Utf8Formatter.TryFormat(id, invocationId, out int idLength);
        WriteMessage(output, static (ref MessagePackWriter w, SendArgs a) =>
        {
            w.WriteArrayHeader(6);
            w.Write(InvocationType);
            w.WriteMapHeader(0);
            w.WriteString(a.InvocationId);
            w.WriteString("Send"u8);
            w.WriteArrayHeader(3);
            w.Write(a.To);
            w.Write(a.Id);
            w.Write(a.Body);
            w.WriteArrayHeader(0);
        }, new SendArgs(to, id, invocationId[..idLength], body));
    }

    public override void WriteHeartbeat(IBufferWriter<byte> output) =>
        WriteMessage(output, static (ref MessagePackWriter w, SendArgs _) =>
        {
            w.WriteArrayHeader(6);
            w.Write(InvocationType);
            w.WriteMapHeader(0);
            w.WriteNil(); // no id: fire and forget, no completion
            w.WriteString("Heartbeat"u8);
            w.WriteArrayHeader(0);
            w.WriteArrayHeader(0);
        }, default);

    public override void Read(LoadConnection connection, ReadOnlyMemory<byte> frame, IInbound inbound)
    {
        ArrayBufferWriter<byte> carry = connection.Carry;
        if (carry.WrittenCount > 0)
        {
            carry.Write(frame.Span);
            frame = carry.WrittenMemory;
        }
        ReadOnlyMemory<byte> rest = ReadMessages(frame, inbound);
        if (rest.Length == 0)
        {
            carry.ResetWrittenCount();
        }
        else if (carry.WrittenCount == 0 || !rest.Equals(carry.WrittenMemory))
        {
            byte[] tail = rest.ToArray(); // rest may lie inside carry itself
            carry.ResetWrittenCount();
            carry.Write(tail);
        }
    }

    /// <summary>Reads the complete messages; returns the incomplete tail.</summary>
    private static ReadOnlyMemory<byte> ReadMessages(ReadOnlyMemory<byte> frame, IInbound inbound)
    {
        while (frame.Length > 0)
        {
            int length = 0;
            int shift = 0;
            int prefix = 0;
            byte b;
            do
            {
                if (prefix == frame.Length)
                {
                    return frame; // the length prefix itself is split
                }
                b = frame.Span[prefix++];
                length |= (b & 0x7F) << shift;
                shift += 7;
            }
            while ((b & 0x80) != 0);
            if (frame.Length - prefix < length)
            {
                return frame;
            }
            ReadOnlyMemory<byte> message = frame.Slice(prefix, length);
            frame = frame[(prefix + length)..];
            var reader = new MessagePackReader(message);
            int fields = reader.ReadArrayHeader();
            int type = reader.ReadInt32();
            if (type == CompletionType)
            {
                inbound.OnAck();
            }
            else if (type == InvocationType && fields >= 5)
            {
                reader.Skip(); // headers
                reader.Skip(); // invocation id (nil)
                reader.Skip(); // target "d"
                reader.ReadArrayHeader();
                reader.Skip(); // from
                ReadOnlySequence<byte> body = reader.ReadBytes() ?? default;
                inbound.OnDeliver(body.IsSingleSegment ? body.FirstSpan : body.ToArray());
            }
        }
        return frame;
    }

    private readonly ref struct SendArgs(long to, long id, ReadOnlySpan<byte> invocationId, ReadOnlySpan<byte> body)
    {
        public readonly long To = to;
        public readonly long Id = id;
        public readonly ReadOnlySpan<byte> InvocationId = invocationId;
        public readonly ReadOnlySpan<byte> Body = body;
    }

    private delegate void Encode(ref MessagePackWriter writer, SendArgs args);

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_scratch;

    /// <summary>One message: the MessagePack array is written to a per-thread scratch buffer first, because its VarInt length goes before it.</summary>
    private static void WriteMessage(IBufferWriter<byte> output, Encode encode, SendArgs args)
    {
        ArrayBufferWriter<byte> body = t_scratch ??= new ArrayBufferWriter<byte>(256);
        body.ResetWrittenCount();
        var writer = new MessagePackWriter(body);
        encode(ref writer, args);
        writer.Flush();
        int length = body.WrittenCount;
        Span<byte> prefix = stackalloc byte[5];
        int prefixLength = 0;
        do
        {
            byte b = (byte)(length & 0x7F);
            length >>= 7;
            prefix[prefixLength++] = length > 0 ? (byte)(b | 0x80) : b;
        }
        while (length > 0);
        Span<byte> destination = output.GetSpan(prefixLength + body.WrittenCount);
        prefix[..prefixLength].CopyTo(destination);
        body.WrittenSpan.CopyTo(destination[prefixLength..]);
        output.Advance(prefixLength + body.WrittenCount);
    }
}
