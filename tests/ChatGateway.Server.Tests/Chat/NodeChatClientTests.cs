using System.Diagnostics;
using System.Text.Json;

namespace ChatGateway.Server.Tests.Chat;

/// <summary>A client in another language, written from docs/protocol.md only (tests/interop/chat-client.mjs: Node `ws` + @msgpack/msgpack).</summary>
public sealed class NodeChatClientTests
{
    [Fact]
    public async Task A_Node_client_written_from_the_protocol_document_sends_receives_syncs_and_retries()
    {
        string interop = Path.Combine(RepositoryRoot(), "tests", "interop");
        Assert.True(Directory.Exists(Path.Combine(interop, "node_modules", "@msgpack", "msgpack")),
            "tests/interop/node_modules is missing: run ./run.sh test (it runs npm ci there)");
        await using ChatTestServer server = await ChatTestServer.StartAsync();

        JsonElement seen = await RunScriptAsync(interop, RawChatClient.Timeout,
            "chat-client.mjs", server.Uri.ToString(), server.Token(8801), server.Token(8802), "8802");
        Assert.Equal(("8801", "8802"), (seen.GetProperty("userA").GetString(), seen.GetProperty("userB").GetString()));
        string conversation = seen.GetProperty("conversation").GetString()!;
        Assert.Equal(Protocol.ConversationId.DirectFlag, long.Parse(conversation) & Protocol.ConversationId.DirectFlag);
        Assert.Equal((1, false), (seen.GetProperty("seq").GetInt32(), seen.GetProperty("duplicate").GetBoolean()));
        JsonElement deliver = seen.GetProperty("deliver");
        Assert.Equal((conversation, 1, "8801", true, true, "hello from node"),
            (deliver.GetProperty("conversation").GetString(), deliver.GetProperty("seq").GetInt32(), deliver.GetProperty("sender").GetString(),
             deliver.GetProperty("sameTimestamp").GetBoolean(), deliver.GetProperty("sameClientId").GetBoolean(), deliver.GetProperty("body").GetString()));
        JsonElement sync = seen.GetProperty("sync");
        Assert.Equal((1, 1, false, false, "hello from node"),
            (sync.GetProperty("head").GetInt32(), sync.GetProperty("earliest").GetInt32(), sync.GetProperty("truncated").GetBoolean(),
             sync.GetProperty("hasMore").GetBoolean(), string.Join("|", sync.GetProperty("bodies").EnumerateArray().Select(b => b.GetString()))));
        Assert.Equal((1, true), (seen.GetProperty("retry").GetProperty("seq").GetInt32(), seen.GetProperty("retry").GetProperty("duplicate").GetBoolean()));
    }

    [Fact]
    public async Task Headless_Chromium_chats_with_the_token_in_the_query_string()
    {
        string interop = Path.Combine(RepositoryRoot(), "tests", "interop");
        Assert.True(File.Exists("/usr/bin/chromium") && Directory.Exists(Path.Combine(interop, "node_modules", "playwright-core")),
            "Chromium or playwright-core is missing: run ./run.sh test (it installs both)");
        await using ChatTestServer server = await ChatTestServer.StartAsync();

        JsonElement seen = await RunScriptAsync(interop, TimeSpan.FromSeconds(60),
            "browser-chat-client.mjs", server.Uri.ToString(), server.Token(8811), server.Token(8812), "8812");
        Assert.Equal("8811", seen.GetProperty("user").GetString());
        Assert.Equal(1, seen.GetProperty("ackSeq").GetInt32());
        Assert.Equal(seen.GetProperty("conversation").GetString(), seen.GetProperty("deliverConversation").GetString());
        Assert.Equal((1, "8811", "hello from a browser"),
            (seen.GetProperty("deliverSeq").GetInt32(), seen.GetProperty("sender").GetString(), seen.GetProperty("body").GetString()));
    }

    /// <summary>Runs a script of tests/interop with node; it must exit 0 and print one JSON line, which is returned.</summary>
    private static async Task<JsonElement> RunScriptAsync(string interop, TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo("node", args)
        {
            WorkingDirectory = interop, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using Process node = Process.Start(start)!;
        Task<string> stdout = node.StandardOutput.ReadToEndAsync();
        Task<string> stderr = node.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        await node.WaitForExitAsync(cts.Token);
        Assert.True(node.ExitCode == 0, $"node exited {node.ExitCode}: {await stderr}");
        return JsonDocument.Parse(await stdout).RootElement;
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ChatGateway.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("ChatGateway.sln not found above " + AppContext.BaseDirectory);
    }
}
