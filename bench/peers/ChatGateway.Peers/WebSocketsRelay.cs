using System.Buffers;
using System.Net.WebSockets;

namespace ChatGateway.Peers;

/// <summary>
/// The relay on ASP.NET Core's <c>UseWebSockets</c> middleware and <see cref="WebSocket"/>, written as its docs
/// suggest: one receive loop per connection over a small buffer, sends serialised by a per-connection lock
/// (a WebSocket allows one send at a time), outgoing frames from the array pool. Endpoint: <c>/ws?user=N</c>.
/// </summary>
public static class WebSocketsRelay
{
    private static readonly Connections<Peer> Users = new();

    private sealed class Peer(WebSocket socket)
    {
        public WebSocket Socket { get; } = socket;
        public SemaphoreSlim SendLock { get; } = new(1, 1);
    }

    public static Func<int> Configure(WebApplicationBuilder builder) => () => Users.Count;

    public static void Map(WebApplication app)
    {
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero }); // clients heartbeat themselves
        app.Map("/ws", async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest || !long.TryParse(context.Request.Query["user"], out long user))
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }
            using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
            var peer = new Peer(socket);
            Users.Add(user, peer);
            try
            {
                await ReceiveLoopAsync(user, peer, context.RequestAborted);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
            {
            }
            finally
            {
                Users.Remove(user, peer);
            }
        });
    }

    private static async Task ReceiveLoopAsync(long user, Peer peer, CancellationToken aborted)
    {
        byte[] buffer = new byte[1024]; // a relay frame is 16 + body bytes; larger ones grow it
        while (true)
        {
            int length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                if (length == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
                result = await peer.Socket.ReceiveAsync(buffer.AsMemory(length), aborted);
                length += result.Count;
            }
            while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await peer.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, aborted);
                return;
            }
            if (!RelayWire.TryReadSend(buffer.AsSpan(0, length), out long to, out long id, out _) || to == 0)
            {
                continue; // a heartbeat, or not a relay frame
            }
            if (Users.Find(to) is { } recipient)
            {
                int deliverLength = RelayWire.DeliverHeader + length - RelayWire.SendHeader;
                byte[] deliver = ArrayPool<byte>.Shared.Rent(deliverLength);
                RelayWire.WriteDeliver(deliver, user, buffer.AsSpan(RelayWire.SendHeader, length - RelayWire.SendHeader));
                await SendAsync(recipient, deliver.AsMemory(0, deliverLength), aborted);
                ArrayPool<byte>.Shared.Return(deliver);
            }
            byte[] ack = ArrayPool<byte>.Shared.Rent(RelayWire.AckLength);
            RelayWire.WriteAck(ack, id);
            await SendAsync(peer, ack.AsMemory(0, RelayWire.AckLength), aborted);
            ArrayPool<byte>.Shared.Return(ack);
        }
    }

    private static async ValueTask SendAsync(Peer peer, ReadOnlyMemory<byte> frame, CancellationToken aborted)
    {
        await peer.SendLock.WaitAsync(aborted);
        try
        {
            await peer.Socket.SendAsync(frame, WebSocketMessageType.Binary, endOfMessage: true, aborted);
        }
        catch (Exception ex) when (ex is WebSocketException or ObjectDisposedException or IOException)
        {
            // the recipient went away: its own loop cleans up
        }
        finally
        {
            peer.SendLock.Release();
        }
    }
}
