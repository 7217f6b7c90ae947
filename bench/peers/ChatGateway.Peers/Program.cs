using System.Diagnostics;
using System.Net;
using ChatGateway.Peers;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// dotnet ChatGateway.Peers.dll signalr|websockets|tcp
// Listens on 127.0.0.1 with OS-chosen ports and prints "PEER relay=PORT admin=PORT" once it accepts
// connections. POST /admin/gc on the admin port forces a full GC and answers memory and session counts, the
// same figures as the gateway's, so the load generator measures every server the same way.
string kind = args.FirstOrDefault() ?? throw new ArgumentException("usage: ChatGateway.Peers signalr|websockets|tcp");
WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args.Skip(1).ToArray());
builder.Logging.SetMinimumLevel(LogLevel.Warning);
ListenOptions? relayListener = null;
ListenOptions? adminListener = null;
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Listen(IPAddress.Loopback, 0, listen =>
    {
        relayListener = listen;
        if (kind == "tcp")
        {
            listen.UseConnectionHandler<TcpRelay>();
        }
    });
    if (kind == "tcp")
    {
        kestrel.Listen(IPAddress.Loopback, 0, listen => adminListener = listen); // HTTP beside the raw relay
    }
});
Func<int> sessions = kind switch
{
    "signalr" => SignalRRelay.Configure(builder),
    "websockets" => WebSocketsRelay.Configure(builder),
    "tcp" => TcpRelay.Configure(builder),
    _ => throw new ArgumentException($"unknown peer '{kind}'"),
};
WebApplication app = builder.Build();
switch (kind)
{
    case "signalr":
        SignalRRelay.Map(app);
        break;
    case "websockets":
        WebSocketsRelay.Map(app);
        break;
}
app.MapPost("/admin/gc", () =>
{
    GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
    // As the gateway's /admin/gc: free regions go back to the OS, so the working set is the memory in use.
    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    using Process self = Process.GetCurrentProcess();
    return Results.Json(new { sessions = sessions(), workingSetBytes = self.WorkingSet64, gcHeapBytes = GC.GetTotalMemory(false) });
});
await app.StartAsync();
int relayPort = relayListener!.IPEndPoint!.Port;
int adminPort = (adminListener ?? relayListener).IPEndPoint!.Port;
Console.WriteLine($"PEER relay={relayPort} admin={adminPort}");
await app.WaitForShutdownAsync();
