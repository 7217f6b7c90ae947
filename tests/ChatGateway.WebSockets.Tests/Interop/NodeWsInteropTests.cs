using System.Diagnostics;
using System.Text.Json;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Interop;

/// <summary>The Node `ws` client (tests/interop, installed by ./run.sh test) against the echo endpoint.</summary>
public sealed class NodeWsInteropTests
{
    [Fact]
    public async Task Node_ws_with_default_options_echoes_text_binary_ping_and_closes_cleanly()
    {
        Assert.True(Directory.Exists(Path.Combine(RepositoryPaths.Interop, "node_modules", "ws")),
            "tests/interop/node_modules is missing: run ./run.sh test (it runs npm ci there)");
        await using EchoServer server = await EchoServer.StartAsync();

        var start = new ProcessStartInfo("node", ["ws-echo-client.mjs", server.WebSocketUri.ToString()])
        {
            WorkingDirectory = RepositoryPaths.Interop,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process node = Process.Start(start)!;
        Task<string> stdout = node.StandardOutput.ReadToEndAsync();
        Task<string> stderr = node.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(RawClient.Timeout);
        await node.WaitForExitAsync(cts.Token);

        Assert.True(node.ExitCode == 0, $"node exited {node.ExitCode}: {await stderr}");
        using JsonDocument result = JsonDocument.Parse((await stdout).Trim());
        Assert.True(result.RootElement.GetProperty("ok").GetBoolean());
        Assert.Equal("", result.RootElement.GetProperty("extensions").GetString()); // deflate was offered and declined
        Assert.Equal(1000, result.RootElement.GetProperty("closeCode").GetInt32());
    }
}
