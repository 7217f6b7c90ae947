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

    /// <summary>
    /// With a 16-byte client message id, as the SDK sends (retries are idempotent): the server pays for its dedupe
    /// window on every message, as it does for real clients. <paramref name="id"/> is unique per sender in a run.
    /// </summary>
    public override void WriteSend(IBufferWriter<byte> output, long to, long id, ReadOnlySpan<byte> body) =>
        ClientRequestWriter.Send(output, (uint)id, 0, to, ClientId(stackalloc byte[16], id), body);

    /// <summary>A send to a conversation by id (a group).</summary>
    public void WriteGroupSend(IBufferWriter<byte> output, long conversation, long id, ReadOnlySpan<byte> body) =>
        ClientRequestWriter.Send(output, (uint)id, conversation, 0, ClientId(stackalloc byte[16], id), body);

    /// <summary>The SDK's layout (ClientMessageIdSource): a prefix, then a counter, big-endian.</summary>
    private static ReadOnlySpan<byte> ClientId(Span<byte> id, long counter)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(id, 0x6c6f6164); // "load"
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(id[8..], counter);
        return id;
    }

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
