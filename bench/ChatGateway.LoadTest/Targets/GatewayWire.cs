using System.Buffers;
using System.Net;
using ChatGateway.LoadTest.Client;
using ChatGateway.Protocol;
using MessagePack;

namespace ChatGateway.LoadTest.Targets;

/// <summary>The gateway's protocol (docs/protocol.md): a JWT on the upgrade, Send to a user's 1:1 conversation, Ack/Error, Deliver.</summary>
public sealed class GatewayWire(Tokens tokens) : Wire
{
    public override Task<LoadConnection> ConnectAsync(IPEndPoint server, long user, CancellationToken cancellationToken) =>
        LoadConnection.ConnectAsync(server, tokens.For(user), cancellationToken);

    /// <summary>No client message id: the scenarios never retry, so the dedupe window is not exercised.</summary>
    public override void WriteSend(IBufferWriter<byte> output, long to, long id, ReadOnlySpan<byte> body) =>
        ClientRequestWriter.Send(output, (uint)id, 0, to, [], body);

    public override void WriteHeartbeat(IBufferWriter<byte> output) => ClientRequestWriter.Heartbeat(output, 1);

    public override void Read(LoadConnection connection, ReadOnlyMemory<byte> frame, IInbound inbound)
    {
        if (frame.Length < 2)
        {
            return;
        }
        switch ((MessageType)frame.Span[1]) // [type, ...]: a fixarray header, then the type as a positive fixint
        {
            case MessageType.Ack or MessageType.Error:
                inbound.OnAck();
                break;
            case MessageType.Deliver:
                var reader = new MessagePackReader(frame);
                int fields = reader.ReadArrayHeader() - 1;
                reader.ReadByte();
                ServerMessageReader.ReadDeliver(ref reader, fields, out DeliverFields deliver);
                inbound.OnDeliver(deliver.Body.IsSingleSegment ? deliver.Body.FirstSpan : deliver.Body.ToArray());
                break;
        }
    }
}
