using ChatGateway.Server.Hosting;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using ChatGateway.Server.Auth;
using ChatGateway.Server.Tests.Chat;

namespace ChatGateway.Server.Tests.Hosting;

public sealed class GatewayHostTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("chatgw-host-").FullName;

    public void Dispose() => Directory.Delete(_data, recursive: true);

    [Fact]
    public async Task The_server_process_answers_healthz_and_WebSocket_on_the_port_given_on_the_command_line()
    {
        await using ServerProcess server = await ServerProcess.StartAsync(["--port", "0", "--address", "127.0.0.1", "--data", _data,
            "--Auth:JwtSecret", ChatTestServer.Secret, "--Storage:IndexMemoryBytes", "16777216"]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Port}/") };

        using JsonDocument health = JsonDocument.Parse(await http.GetStringAsync("/healthz"));
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
        Assert.Contains(_data, server.Log);

        // The WebSocket endpoint is the chat protocol: a token signed with the configured secret opens a session.
        string token = new TokenService(JwtSecret.Resolve(ChatTestServer.Secret, _data), new AuthOptions(), TimeProvider.System).Issue(7, TimeSpan.FromMinutes(5));
        await using RawChatClient client = await RawChatClient.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/ws"), token);
        Assert.Equal(7, client.Hello.User);
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
            ["CHAT_JWT_SECRET"] = ChatTestServer.Secret,
            ["CHAT_Storage__IndexMemoryBytes"] = "16777216",
        };
        await using ServerProcess server = await ServerProcess.StartAsync(["--port", "0"], environment);
        Assert.Contains(_data, server.Log);

        // CHAT_JWT_SECRET is the signing secret (a token signed with it is accepted), and the WebSockets section
        // from the environment applied: 201 bytes are over the 200-byte limit.
        string token = new TokenService(JwtSecret.Resolve(ChatTestServer.Secret, _data), new AuthOptions(), TimeProvider.System).Issue(8, TimeSpan.FromMinutes(5));
        await using RawChatClient client = await RawChatClient.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/ws"), token);
        Assert.DoesNotContain("DEV MODE", server.Log);
        await client.SendRawAsync(new byte[201]);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await client.WaitClosedAsync());
    }

    [Fact]
    public async Task Unknown_paths_get_404_from_the_HTTP_pipeline()
    {
        await using ServerProcess server = await ServerProcess.StartAsync(["--port", "0", "--address", "127.0.0.1", "--data", _data, "--Storage:IndexMemoryBytes", "16777216"]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Port}/") };

        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("/nothing-here")).StatusCode);
    }

    [Fact]
    public void An_idle_timeout_shorter_than_two_heartbeat_intervals_is_refused_at_start()
    {
        var error = Assert.Throws<InvalidOperationException>(() =>
            GatewayHost.Build(["--port", "0", "--data", _data, "--WebSockets:IdleTimeout", "00:00:45", "--Chat:HeartbeatInterval", "00:00:30"]));
        Assert.Contains("WebSockets:IdleTimeout", error.Message);
    }
}
