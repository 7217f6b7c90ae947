using System.Buffers.Binary;
using System.Net;
using ChatGateway.LoadTest.Client;

namespace ChatGateway.LoadTest.Targets;

/// <summary>The relay format on length-prefixed TCP frames; the first frame names the user.</summary>
public sealed class RawTcpWire : RelayWebSocketWire
{
    public override async Task<LoadConnection> ConnectAsync(IPEndPoint server, long user, CancellationToken cancellationToken)
    {
        LoadConnection connection = await LoadConnection.ConnectLengthPrefixedAsync(server, cancellationToken);
        byte[] hello = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(hello, user);
        connection.Append(hello);
        await connection.FlushAsync(cancellationToken);
        return connection;
    }
}
