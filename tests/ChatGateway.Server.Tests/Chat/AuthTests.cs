using System.Diagnostics;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using ChatGateway.Protocol;
using ChatGateway.Server.Auth;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace ChatGateway.Server.Tests.Chat;

public sealed class AuthTests
{
    [Fact]
    public async Task A_valid_token_in_the_header_or_the_query_string_opens_a_session_for_its_subject()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient viaHeader = await server.ConnectRawAsync(31);
        Assert.Equal(31, viaHeader.Hello.User);

        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(server.Uri + "?access_token=" + Uri.EscapeDataString(server.Token(32))), CancellationToken.None);
        Assert.Equal(WebSocketState.Open, socket.State);
    }

    public static TheoryData<string, string> BadTokens() => new()
    {
        { "missing", "" },
        { "garbage", "not.a.token" },
        { "wrong secret", Sign("77", DateTime.UtcNow.AddHours(1), "another-secret-another-secret-another-secret-0000") },
        { "expired", Sign("77", DateTime.UtcNow.AddMinutes(-5), ChatTestServer.Secret) },
        { "no exp", Sign("77", null, ChatTestServer.Secret) },
        { "non-numeric sub", Sign("alice", DateTime.UtcNow.AddHours(1), ChatTestServer.Secret) },
        { "zero sub", Sign("0", DateTime.UtcNow.AddHours(1), ChatTestServer.Secret) },
        { "alg none", new JsonWebTokenHandler().CreateToken("""{"sub":"77","exp":4102444800}""") },
    };

    [Theory]
    [MemberData(nameof(BadTokens))]
    public async Task Missing_invalid_or_expired_tokens_get_401_before_the_upgrade(string why, string token)
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        string request = $"GET /ws{(token.Length > 0 ? "?access_token=" + Uri.EscapeDataString(token) : "")} HTTP/1.1\r\nHost: localhost\r\n" +
                         "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
        string answer = await RawHttpAsync(server.Uri.Port, request);
        Assert.True(answer.StartsWith("HTTP/1.1 401 ", StringComparison.Ordinal), $"{why}: {answer}");
        Assert.Contains("WWW-Authenticate: Bearer", answer);
    }

    [Fact]
    public async Task A_session_whose_token_expires_is_closed_with_4001_and_a_refresh_must_be_for_the_same_user()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync("--Auth:ClockSkew", "00:00:00", "--Chat:TokenCheckInterval", "00:00:00.100");
        await using RawChatClient client = await RawChatClient.ConnectAsync(server.Uri, server.Token(41, TimeSpan.FromSeconds(2)));

        uint rid = await client.SendAsync((o, r) => ClientRequestWriter.RefreshToken(o, r, server.Token(42)));
        Assert.Equal(ErrorCode.InvalidToken, Assert.IsType<ErrorMessage>(await client.ReplyAsync(rid)).Code);
        rid = await client.SendAsync((o, r) => ClientRequestWriter.RefreshToken(o, r, "garbage"));
        Assert.Equal(ErrorCode.InvalidToken, Assert.IsType<ErrorMessage>(await client.ReplyAsync(rid)).Code);

        Assert.Equal((WebSocketCloseStatus)CloseCode.TokenExpired, await client.WaitClosedAsync());
    }

    [Fact]
    public async Task RefreshToken_moves_the_sessions_expiry_to_the_new_tokens()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient client = await RawChatClient.ConnectAsync(server.Uri, server.Token(43, TimeSpan.FromMinutes(1)));
        long before = client.Hello.TokenExpiresMs;

        uint rid = await client.SendAsync((o, r) => ClientRequestWriter.RefreshToken(o, r, server.Token(43, TimeSpan.FromHours(2))));
        long after = Assert.IsType<OkMessage>(await client.ReplyAsync(rid)).Value;

        Assert.InRange(after - before, TimeSpan.FromMinutes(118).TotalMilliseconds, TimeSpan.FromMinutes(120).TotalMilliseconds);
        ChatGateway.Server.Sessions.ChatSession session = Assert.Single(server.Node.Registry.SessionsOf(43));
        Assert.Equal(after, session.TokenExpiresAtMs);
    }

    [Fact]
    public async Task The_token_command_signs_with_the_development_secret_the_server_generates_in_its_data_folder()
    {
        string data = Directory.CreateTempSubdirectory("chatgw-dev-").FullName;
        try
        {
            string dll = Path.Combine(AppContext.BaseDirectory, "ChatGateway.Server.dll");
            var start = new ProcessStartInfo("dotnet", [dll, "token", "4242", "--data", data]) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.Environment.Remove("CHAT_JWT_SECRET");
            using Process process = Process.Start(start)!;
            string token = (await process.StandardOutput.ReadToEndAsync()).Trim();
            await process.WaitForExitAsync();
            Assert.Equal(0, process.ExitCode);
            Assert.True(File.Exists(Path.Combine(data, JwtSecret.DevSecretFile)));

            // A server on the same data folder with no secret configured accepts it.
            await using Hosting.ServerProcess server = await Hosting.ServerProcess.StartAsync(["--port", "0", "--address", "127.0.0.1", "--data", data,
                "--Storage:IndexMemoryBytes", (16 << 20).ToString(), "--Storage:JournalMemoryBytes", (4 << 20).ToString()]);
            Assert.Contains("DEV MODE", server.Log);
            await using RawChatClient client = await RawChatClient.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/ws"), token);
            Assert.Equal(4242, client.Hello.User);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static string Sign(string subject, DateTime? expires, string secret)
    {
        var descriptor = new SecurityTokenDescriptor
        {
            Claims = new Dictionary<string, object> { ["sub"] = subject },
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(secret)), SecurityAlgorithms.HmacSha256),
        };
        if (expires is { } exp)
        {
            descriptor.Expires = exp;
            descriptor.NotBefore = exp.AddHours(-2);
            descriptor.IssuedAt = exp.AddHours(-2);
        }
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = expires is not null };
        return handler.CreateToken(descriptor);
    }

    private static async Task<string> RawHttpAsync(int port, string request)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        NetworkStream stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var cts = new CancellationTokenSource(RawChatClient.Timeout);
        var answer = new MemoryStream();
        byte[] buffer = new byte[4096];
        int read;
        while ((read = await stream.ReadAsync(buffer, cts.Token)) > 0)
        {
            answer.Write(buffer, 0, read);
        }
        return Encoding.ASCII.GetString(answer.ToArray());
    }
}
