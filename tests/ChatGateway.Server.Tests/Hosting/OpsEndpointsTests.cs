using System.Net;
using System.Text.Json;
using ChatGateway.Server.Tests.Chat;

namespace ChatGateway.Server.Tests.Hosting;

public sealed class OpsEndpointsTests
{
    private static HttpClient Http(ChatTestServer server) => new() { BaseAddress = new Uri($"http://127.0.0.1:{server.Uri.Port}/") };

    [Fact]
    public async Task Metrics_count_sessions_and_the_messages_each_shard_sequenced()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        await using RawChatClient a = await server.ConnectRawAsync(9101);
        await using RawChatClient b = await server.ConnectRawAsync(9102);
        await a.SendMessageAsync(0, "one", toUser: 9102);
        await a.SendMessageAsync(0, "two", toUser: 9102);
        using HttpClient http = Http(server);

        using JsonDocument metrics = JsonDocument.Parse(await http.GetStringAsync("/metrics"));
        JsonElement root = metrics.RootElement;
        Assert.Equal(2, root.GetProperty("sessions").GetInt32());
        Assert.True(root.GetProperty("gcHeapBytes").GetInt64() > 0);
        JsonElement[] shards = [.. root.GetProperty("shards").EnumerateArray()];
        Assert.Equal(2, shards.Length);
        Assert.Equal(2, shards.Sum(s => s.GetProperty("completed").GetInt64())); // the two sends
        // Commit mode (the default): each send, acknowledged before the next, waited for a commit of its own.
        long commits = shards.Sum(s => s.GetProperty("commitWaitMicros").GetProperty("count").GetInt64());
        Assert.True(commits >= 2, $"{commits} commit waits for two sends");
        Assert.Equal(commits, shards.Sum(s => s.GetProperty("commitWaitMicros").GetProperty("buckets").EnumerateArray().Sum(b => b.GetInt64())));
        Assert.Equal(HttpStatusCode.NotFound, (await http.PostAsync("/admin/gc", null)).StatusCode);
    }

    [Fact]
    public async Task A_forced_gc_is_available_only_when_enabled()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync("--Ops:AllowForcedGc", "true");
        using HttpClient http = Http(server);

        HttpResponseMessage response = await http.PostAsync("/admin/gc", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using JsonDocument after = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(after.RootElement.GetProperty("gcHeapBytes").GetInt64() > 0);
    }
}
