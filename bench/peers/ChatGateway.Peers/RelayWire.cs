using System.Buffers.Binary;

namespace ChatGateway.Peers;

/// <summary>
/// The peers' 1:1 relay format (bench/peers/README.md), the same for every transport. Little-endian throughout.
/// <list type="bullet">
/// <item>client → server, send: <c>[to: i64][id: i64][body]</c>; <c>to = 0</c> is a heartbeat (no answer).</item>
/// <item>server → recipient, deliver: <c>[1: u8][from: i64][body]</c>.</item>
/// <item>server → sender, ack: <c>[2: u8][id: i64]</c>, after the deliver was queued (or dropped: recipient offline).</item>
/// </list>
/// Like the gateway's Send/Ack/Deliver, minus sequencing and storage: what a relay costs at the least.
/// </summary>
public static class RelayWire
{
    public const byte Deliver = 1;
    public const byte Ack = 2;
    public const int SendHeader = 16;
    public const int DeliverHeader = 9;
    public const int AckLength = 9;

    public static bool TryReadSend(ReadOnlySpan<byte> frame, out long to, out long id, out ReadOnlySpan<byte> body)
    {
        if (frame.Length < SendHeader)
        {
            to = id = 0;
            body = default;
            return false;
        }
        to = BinaryPrimitives.ReadInt64LittleEndian(frame);
        id = BinaryPrimitives.ReadInt64LittleEndian(frame[8..]);
        body = frame[SendHeader..];
        return true;
    }

    public static void WriteDeliver(Span<byte> destination, long from, ReadOnlySpan<byte> body)
    {
        destination[0] = Deliver;
        BinaryPrimitives.WriteInt64LittleEndian(destination[1..], from);
        body.CopyTo(destination[DeliverHeader..]);
    }

    public static void WriteAck(Span<byte> destination, long id)
    {
        destination[0] = Ack;
        BinaryPrimitives.WriteInt64LittleEndian(destination[1..], id);
    }
}
