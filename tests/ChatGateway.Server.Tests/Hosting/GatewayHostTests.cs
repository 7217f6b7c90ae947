using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace ChatGateway.Server.Tests.Hosting;

public sealed class GatewayHostTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("chatgw-host-").FullName;

    public void Dispose() => Directory.Delete(_data, recursive: true);

    [Fact]
    public async Task The_server_process_answers_healthz_and_WebSocket_on_the_port_given_on_the_command_line()
    {
        await using ServerProcess server = await ServerProcess.StartAsync(["--port", "0", "--address", "127.0.0.1", "--data", _data]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Port}/") };

        using JsonDocument health = JsonDocument.Parse(await http.GetStringAsync("/healthz"));
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
        Assert.Contains(_data, server.Log);

        using var socket = new ClientWebSocket();
        using var cts = new CancellationTokenSource(ServerProcess.Timeout);
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/ws"), cts.Token);
        await socket.SendAsync("ping through the real server"u8.ToArray(), WebSocketMessageType.Text, true, cts.Token);
        var buffer = new byte[256];
        WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, cts.Token);
        Assert.Equal("ping through the real server", Encoding.UTF8.GetString(buffer, 0, result.Count));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
    }

    [Fact]
    public async Task CHAT_environment_variables_configure_the_server_and_the_command_line_overrides_them()
    {
        var environment = new Dictionary<string, string>
        {
            ["CHAT_PORT"] = "1", // a port it could not bind: the command line must win
            ["CHAT_ADDRESS"] = "127.0.0.1",
            ["CHAT_DATA"] = _data,
            ["CHAT_WebSockets__MaxMessageSize"] = "200",
        };
        await using ServerProcess server = await ServerProcess.StartAsync(["--port", "0"], environment);
        Assert.Contains(_data, server.Log);

        using var socket = new ClientWebSocket();
        using var cts = new CancellationTokenSource(ServerProcess.Timeout);
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/ws"), cts.Token);
        await socket.SendAsync(new byte[201], WebSocketMessageType.Binary, true, cts.Token);

        // The section from the environment applied: 201 bytes are over the 200-byte limit.
        WebSocketReceiveResult result = await socket.ReceiveAsync(new byte[16], cts.Token);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, result.CloseStatus);
    }

    [Fact]
    public async Task Unknown_paths_get_404_from_the_HTTP_pipeline()
    {
        await using ServerProcess server = await ServerProcess.StartAsync(["--port", "0", "--address", "127.0.0.1", "--data", _data]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Port}/") };

        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("/nothing-here")).StatusCode);
    }
}
