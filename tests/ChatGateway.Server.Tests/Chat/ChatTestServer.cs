using ChatGateway.Server.Auth;
using ChatGateway.Server.Hosting;
using ChatGateway.Server.Messaging;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ChatGateway.Server.Tests.Chat;

/// <summary>
/// The real gateway in this process (GatewayHost, Kestrel on 127.0.0.1:0, FASTER files in a temp folder),
/// with small store memory so that many can run in one test process.
/// </summary>
public sealed class ChatTestServer : IAsyncDisposable
{
    public const string Secret = "test-secret-test-secret-test-secret-0123456789";

    private readonly WebApplication _app;
    private readonly bool _ownsData;

    private ChatTestServer(WebApplication app, string data, bool ownsData)
    {
        _app = app;
        Data = data;
        _ownsData = ownsData;
        Tokens = app.Services.GetRequiredService<TokenService>();
        Node = app.Services.GetRequiredService<ChatNode>();
        Uri = new Uri($"ws://127.0.0.1:{GatewayHost.ListeningAddress(app).Port}/ws");
    }

    public string Data { get; }
    public Uri Uri { get; }
    public TokenService Tokens { get; }
    public ChatNode Node { get; }
    public IServiceProvider Services => _app.Services;

    public static string[] Arguments(string data, params string[] extra) =>
    [
        "--port", "0", "--address", "127.0.0.1", "--data", data,
        "--Auth:JwtSecret", Secret,
        "--Chat:Shards", "2",
        "--Storage:JournalMemoryBytes", (4 << 20).ToString(),
        "--Storage:IndexMemoryBytes", (16 << 20).ToString(),
        "--Storage:IndexHashBytes", (1 << 20).ToString(),
        "--Storage:MinFreeDiskBytes", (1 << 20).ToString(),
        .. extra,
    ];

    public static Task<ChatTestServer> StartAsync(params string[] extra) => StartInAsync(null, extra);

    /// <summary>A server on <paramref name="data"/> (kept afterwards), or on a fresh temp folder (deleted afterwards) when null.</summary>
    public static async Task<ChatTestServer> StartInAsync(string? data, params string[] extra)
    {
        bool owns = data is null;
        data ??= Directory.CreateTempSubdirectory("chatgw-chat-").FullName;
        WebApplication app = GatewayHost.Build(Arguments(data, extra), builder => builder.Logging.ClearProviders());
        await app.StartAsync();
        return new ChatTestServer(app, data, owns);
    }

    public string Token(long user, TimeSpan? lifetime = null) => Tokens.Issue(user, lifetime ?? TimeSpan.FromHours(1));

    public Client.ChatClient Client(long user, Client.ChatClientOptions? options = null) =>
        new(Uri, _ => ValueTask.FromResult(Token(user)), options);

    public Task<RawChatClient> ConnectRawAsync(long user) => RawChatClient.ConnectAsync(Uri, Token(user));

    /// <summary>Graceful stop (as on SIGTERM) without deleting the data, so a new server can reopen it.</summary>
    public async Task StopAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        catch (ObjectDisposedException)
        {
        }
        if (_ownsData)
        {
            Directory.Delete(Data, recursive: true);
        }
    }
}
