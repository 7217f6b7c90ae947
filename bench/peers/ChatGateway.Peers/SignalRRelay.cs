using Microsoft.AspNetCore.SignalR;

namespace ChatGateway.Peers;

/// <summary>
/// The relay as an ASP.NET Core SignalR hub with the MessagePack hub protocol: <c>Send(to, id, body)</c> returns
/// <c>id</c> (the completion is the ack) after invoking <c>d(from, body)</c> on the recipient's connection;
/// <c>Heartbeat()</c> is a fire-and-forget invocation. Endpoint: <c>/hub?user=N</c>, WebSocket transport, clients
/// skip negotiation. Recipients are found in a user → connection id map (Clients.User scans every connection).
/// </summary>
public static class SignalRRelay
{
    private static readonly Connections<string> Users = new();

    public static Func<int> Configure(WebApplicationBuilder builder)
    {
        builder.Services.AddSignalR().AddMessagePackProtocol();
        return () => Users.Count;
    }

    public static void Map(WebApplication app) => app.MapHub<RelayHub>("/hub");

    public sealed class RelayHub : Hub
    {
        private long User => long.Parse(Context.GetHttpContext()!.Request.Query["user"]!, System.Globalization.CultureInfo.InvariantCulture);

        public override Task OnConnectedAsync()
        {
            Users.Add(User, Context.ConnectionId);
            return Task.CompletedTask;
        }

        public override Task OnDisconnectedAsync(Exception? exception)
        {
            Users.Remove(User, Context.ConnectionId);
            return Task.CompletedTask;
        }

        public async Task<long> Send(long to, long id, byte[] body)
        {
            if (Users.Find(to) is { } recipient)
            {
                await Clients.Client(recipient).SendAsync("d", User, body);
            }
            return id;
        }

        public void Heartbeat()
        {
        }
    }
}
