using System.Net.WebSockets;
using System.Text;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Interop;

/// <summary>.NET's own strict client (System.Net.WebSockets.ClientWebSocket) against the echo endpoint.</summary>
public sealed class ClientWebSocketInteropTests
{
    private static async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveMessageAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, ct);
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);
        return (result.MessageType, message.ToArray());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Text_binary_and_close_work_with_and_without_a_compression_offer(bool offerCompression)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        using var cts = new CancellationTokenSource(RawClient.Timeout);
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (offerCompression)
        {
            socket.Options.DangerousDeflateOptions = new WebSocketDeflateOptions();
        }

        await socket.ConnectAsync(server.WebSocketUri, cts.Token);
        Assert.False(socket.HttpResponseHeaders?.ContainsKey("Sec-WebSocket-Extensions") ?? false);

        foreach (int size in new[] { 0, 1, 125, 126, 65535, 65536, 200_000 })
        {
            byte[] binary = new byte[size];
            new Random(size).NextBytes(binary);
            await socket.SendAsync(binary, WebSocketMessageType.Binary, endOfMessage: true, cts.Token);
            (WebSocketMessageType type, byte[] data) = await ReceiveMessageAsync(socket, cts.Token);
            Assert.Equal(WebSocketMessageType.Binary, type);
            Assert.Equal(binary, data);
        }

        byte[] text = Encoding.UTF8.GetBytes("Grüße 👋 from ClientWebSocket");
        // Sent in two fragments, split inside the emoji: the server must reassemble and validate across them.
        await socket.SendAsync(text.AsMemory(0, 14), WebSocketMessageType.Text, endOfMessage: false, cts.Token);
        await socket.SendAsync(text.AsMemory(14), WebSocketMessageType.Text, endOfMessage: true, cts.Token);
        (WebSocketMessageType textType, byte[] echoed) = await ReceiveMessageAsync(socket, cts.Token);
        Assert.Equal(WebSocketMessageType.Text, textType);
        Assert.Equal(text, echoed);

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
        Assert.Equal(WebSocketState.Closed, socket.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
    }

    [Fact]
    public async Task Many_clients_at_once_each_get_their_own_echoes()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        using var cts = new CancellationTokenSource(RawClient.Timeout);

        await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            using var socket = new ClientWebSocket();
            await socket.ConnectAsync(server.WebSocketUri, cts.Token);
            for (int m = 0; m < 20; m++)
            {
                byte[] payload = Encoding.UTF8.GetBytes($"client {i} message {m}");
                await socket.SendAsync(payload, WebSocketMessageType.Text, true, cts.Token);
                Assert.Equal(payload, (await ReceiveMessageAsync(socket, cts.Token)).Data);
            }
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
        }));
    }

    [Fact]
    public async Task Closed_connections_leave_no_tracked_state_behind()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        using var cts = new CancellationTokenSource(RawClient.Timeout);

        for (int i = 0; i < 20; i++)
        {
            using var socket = new ClientWebSocket();
            await socket.ConnectAsync(server.WebSocketUri, cts.Token);
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
        }
        using var aborted = new ClientWebSocket();
        await aborted.ConnectAsync(server.WebSocketUri, cts.Token);
        aborted.Abort();

        // The server's side of each connection ends just after the client's close returns: wait for it.
        while (server.TrackedConnections != 0)
        {
            await Task.Delay(10, cts.Token);
        }
        Assert.Equal(0, server.TrackedConnections);
    }
}
