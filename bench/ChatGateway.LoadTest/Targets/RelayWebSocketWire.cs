using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using ChatGateway.LoadTest.Client;

namespace ChatGateway.LoadTest.Targets;

/// <summary>
/// The peers' relay format (bench/peers/README.md) in WebSocket binary frames, for ASP.NET Core WebSockets and
/// Node ws: <c>/ws?user=N</c>, send <c>[to][id][body]</c>, deliver <c>[1][from][body]</c>, ack <c>[2][id]</c>.
/// </summary>
public class RelayWebSocketWire : Wire
{
    public override Task<LoadConnection> ConnectAsync(IPEndPoint server, long user, CancellationToken cancellationToken) =>
        LoadConnection.ConnectWebSocketAsync(server, "/ws?user=" + user, cancellationToken);

    public override void WriteSend(IBufferWriter<byte> output, long to, long id, ReadOnlySpan<byte> body)
    {
        Span<byte> frame = output.GetSpan(16 + body.Length);
        BinaryPrimitives.WriteInt64LittleEndian(frame, to);
        BinaryPrimitives.WriteInt64LittleEndian(frame[8..], id);
        body.CopyTo(frame[16..]);
        output.Advance(16 + body.Length);
    }

    public override void WriteHeartbeat(IBufferWriter<byte> output)
    {
        output.GetSpan(16)[..16].Clear(); // to = 0
        output.Advance(16);
    }

    public override void Read(LoadConnection connection, ReadOnlyMemory<byte> frame, IInbound inbound)
    {
        ReadOnlySpan<byte> span = frame.Span;
        if (span.Length == 0)
        {
            return;
        }
        if (span[0] == 2)
        {
            inbound.OnAck();
        }
        else if (span[0] == 1 && span.Length >= 9)
        {
            inbound.OnDeliver(span[9..]);
        }
    }
}
