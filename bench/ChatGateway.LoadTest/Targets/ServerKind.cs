namespace ChatGateway.LoadTest.Targets;

/// <summary>The servers a scenario can run against: the gateway in both durability modes, and the peers (bench/peers).</summary>
public enum ServerKind
{
    Gateway,
    GatewayRelaxed,
    SignalR,
    AspNetWebSockets,
    NodeWs,
    RawTcp,
}

public static class ServerKinds
{
    public static string Name(this ServerKind kind) => kind switch
    {
        ServerKind.Gateway => "ChatGateway (Commit)",
        ServerKind.GatewayRelaxed => "ChatGateway (Relaxed)",
        ServerKind.SignalR => "SignalR (MessagePack)",
        ServerKind.AspNetWebSockets => "ASP.NET Core WebSockets",
        ServerKind.NodeWs => "Node ws",
        ServerKind.RawTcp => "raw TCP relay",
        _ => kind.ToString(),
    };

    /// <summary>The token used on command lines and in the JSON: gateway, gateway-relaxed, signalr, websockets, node-ws, tcp.</summary>
    public static string Id(this ServerKind kind) => kind switch
    {
        ServerKind.Gateway => "gateway",
        ServerKind.GatewayRelaxed => "gateway-relaxed",
        ServerKind.SignalR => "signalr",
        ServerKind.AspNetWebSockets => "websockets",
        ServerKind.NodeWs => "node-ws",
        ServerKind.RawTcp => "tcp",
        _ => kind.ToString(),
    };

    public static ServerKind Parse(string id) =>
        Enum.GetValues<ServerKind>().FirstOrDefault(k => k.Id() == id, (ServerKind)(-1)) is var kind && kind >= 0
            ? kind
            : throw new ArgumentException($"unknown server '{id}' (gateway, gateway-relaxed, signalr, websockets, node-ws, tcp)");

    public static bool IsGateway(this ServerKind kind) => kind is ServerKind.Gateway or ServerKind.GatewayRelaxed;
}
