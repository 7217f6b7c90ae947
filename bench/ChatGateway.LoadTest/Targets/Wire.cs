using System.Buffers;
using System.Net;
using ChatGateway.LoadTest.Client;

namespace ChatGateway.LoadTest.Targets;

/// <summary>What a load client does with the server frames it reads: count acks, and see each delivered body.</summary>
public interface IInbound
{
    void OnAck();

    /// <summary>A message delivered to this connection; <paramref name="body"/> is valid during the call.</summary>
    void OnDeliver(ReadOnlySpan<byte> body);

    /// <summary>Every frame that arrived together has been read (the receive buffer is empty).</summary>
    void OnBatchEnd()
    {
    }
}

/// <summary>
/// One server's dialect of the 1:1 chat the scenarios drive: how a client connects as a user, how it encodes a
/// send and a heartbeat, and how it recognises acks and deliveries. Encoders write into a caller's buffer and
/// readers work on the received frame in place, so the load generator allocates nothing per message.
/// </summary>
public abstract class Wire
{
    /// <summary>Connects as <paramref name="user"/>; returns once the server accepted the session.</summary>
    public abstract Task<LoadConnection> ConnectAsync(IPEndPoint server, long user, CancellationToken cancellationToken);

    /// <summary>A send of <paramref name="body"/> to <paramref name="to"/>'s 1:1 conversation; <paramref name="id"/> comes back in the ack where the dialect has one.</summary>
    public abstract void WriteSend(IBufferWriter<byte> output, long to, long id, ReadOnlySpan<byte> body);

    public abstract void WriteHeartbeat(IBufferWriter<byte> output);

    /// <summary>Reports the acks and deliveries in one received frame of <paramref name="connection"/>.</summary>
    public abstract void Read(LoadConnection connection, ReadOnlyMemory<byte> frame, IInbound inbound);

    public static Wire For(ServerKind kind, string secret) => kind switch
    {
        ServerKind.Gateway or ServerKind.GatewayRelaxed => new GatewayWire(new Tokens(secret)),
        ServerKind.SignalR => new SignalRWire(),
        ServerKind.AspNetWebSockets or ServerKind.NodeWs => new RelayWebSocketWire(),
        ServerKind.RawTcp => new RawTcpWire(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
