using System.Text;
using ChatGateway.WebSockets.Handshake;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Handshake;

/// <summary>The HTTP/1.1 upgrade over real sockets: what is accepted, and the exact answer to what is not.</summary>
public sealed class HandshakeTests
{
    [Fact]
    public async Task A_valid_upgrade_gets_101_with_the_right_accept_key_and_no_extension()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.OpenAsync(server.Port);

        HttpAnswer answer = await client.HandshakeAsync(RawClient.UpgradeRequest(server.Port, "/ws", "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"));

        Assert.Equal(101, answer.Status);
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", answer.Header("Sec-WebSocket-Accept"));
        Assert.Equal("websocket", answer.Header("Upgrade"));
        Assert.Equal("Upgrade", answer.Header("Connection"));
        Assert.Null(answer.Header("Sec-WebSocket-Extensions"));
        Assert.Null(answer.Header("Sec-WebSocket-Protocol"));
    }

    [Fact]
    public async Task Header_names_and_tokens_are_case_insensitive_and_lists_are_understood()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.OpenAsync(server.Port);

        string request = $"GET /ws?token=abc HTTP/1.1\r\nhost: x\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, UPGRADE\r\n" +
                         $"sec-websocket-key: {RawClient.NewKey()}\r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n";

        Assert.Equal(101, (await client.HandshakeAsync(request)).Status);
    }

    public static TheoryData<string, int, string?> BadRequests => new()
    {
        // request, expected status, expected header "Name: value" or null
        { "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 426, "Sec-WebSocket-Version: 13" },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 426, "Sec-WebSocket-Version: 13" },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, null },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: not base64 at all!!!!!!!\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, null },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, null },
        { "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, null },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 426, "Upgrade: websocket" },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 426, "Upgrade: websocket" },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 426, "Upgrade: websocket" },
        { "POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 405, "Allow: GET" },
        { "GET /ws HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, null },
        { "GET /ws HTTP/1.1\r\nHost: x\r\n folded: header\r\nUpgrade: websocket\r\n\r\n", 400, null },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400, null },
        { "GET /ws HTTP/1.1 trailing\r\nHost: x\r\n\r\n", 400, null },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_upgrade_gets_the_documented_status_and_the_connection_closes(string request, int status, string? header)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.OpenAsync(server.Port);

        HttpAnswer answer = await client.HandshakeAsync(request);

        Assert.Equal(status, answer.Status);
        Assert.Equal("close", answer.Header("Connection"));
        Assert.False(string.IsNullOrWhiteSpace(answer.Body));
        if (header is not null)
        {
            string[] parts = header.Split(": ");
            Assert.Equal(parts[1], answer.Header(parts[0]));
        }
        await client.ExpectEndOfStreamAsync();
    }

    [Fact]
    public async Task A_request_head_over_8_KiB_gets_431()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.OpenAsync(server.Port);

        string request = RawClient.UpgradeRequest(server.Port, extraHeaders: $"X-Padding: {new string('p', 8 * 1024)}");
        HttpAnswer answer = await client.HandshakeAsync(request);

        Assert.Equal(431, answer.Status);
        await client.ExpectEndOfStreamAsync();
    }

    [Fact]
    public async Task A_head_that_never_ends_gets_431_once_it_passes_8_KiB()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.OpenAsync(server.Port);

        await client.SendRawAsync(Encoding.ASCII.GetBytes("GET /ws HTTP/1.1\r\n"));
        await client.SendRawAsync(Encoding.ASCII.GetBytes("X-Endless: " + new string('e', 9000)));

        Assert.Equal(431, (await client.ReadHttpAnswerAsync()).Status);
    }

    [Fact]
    public async Task A_subprotocol_is_chosen_only_from_those_offered()
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.Subprotocols = ["chat.v2", "chat.v1"]);

        await using (RawClient client = await RawClient.OpenAsync(server.Port))
        {
            HttpAnswer answer = await client.HandshakeAsync(RawClient.UpgradeRequest(server.Port, extraHeaders: "Sec-WebSocket-Protocol: other, chat.v1, chat.v2"));
            Assert.Equal(101, answer.Status);
            Assert.Equal("chat.v1", answer.Header("Sec-WebSocket-Protocol")); // the client's first supported choice
        }
        await using (RawClient client = await RawClient.OpenAsync(server.Port))
        {
            HttpAnswer answer = await client.HandshakeAsync(RawClient.UpgradeRequest(server.Port, extraHeaders: "Sec-WebSocket-Protocol: other"));
            Assert.Equal(101, answer.Status);
            Assert.Null(answer.Header("Sec-WebSocket-Protocol"));
        }
        await using (RawClient client = await RawClient.OpenAsync(server.Port))
        {
            HttpAnswer answer = await client.HandshakeAsync(RawClient.UpgradeRequest(server.Port));
            Assert.Null(answer.Header("Sec-WebSocket-Protocol"));
        }
    }

    [Theory]
    [InlineData("Origin: https://chat.example", 101)]
    [InlineData("Origin: HTTPS://CHAT.EXAMPLE", 101)]
    [InlineData("Origin: https://evil.example", 403)]
    [InlineData("X-No-Origin: non-browser client", 101)]
    public async Task The_origin_allow_list_is_enforced_when_configured(string header, int status)
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.AllowedOrigins = ["https://chat.example"]);
        await using RawClient client = await RawClient.OpenAsync(server.Port);

        HttpAnswer answer = await client.HandshakeAsync(RawClient.UpgradeRequest(server.Port, extraHeaders: header));

        Assert.Equal(status, answer.Status);
    }

    [Fact]
    public async Task Other_requests_on_the_same_port_reach_the_HTTP_pipeline()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        using var http = new HttpClient { BaseAddress = server.HttpUri };

        Assert.Equal("hello", await http.GetStringAsync("/hello"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("/wsx")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("/w")).StatusCode);
    }

    [Fact]
    public async Task Frames_sent_right_behind_the_request_head_are_not_lost()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await using RawClient client = await RawClient.OpenAsync(server.Port);

        byte[] request = Encoding.ASCII.GetBytes(RawClient.UpgradeRequest(server.Port));
        byte[] frame = RawClient.Frame(ChatGateway.WebSockets.Framing.WebSocketOpcode.Text, "eager"u8.ToArray());
        await client.SendRawAsync(request.Concat(frame).ToArray());

        Assert.Equal(101, (await client.ReadHttpAnswerAsync()).Status);
        Assert.Equal("eager", (await client.ReceiveFrameAsync()).Text);
    }

    [Fact]
    public void The_accept_key_matches_the_RFC_example()
    {
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", HandshakeValidator.ComputeAcceptKey("dGhlIHNhbXBsZSBub25jZQ=="));
    }
}

/// <summary>Handshake deadlines.</summary>
[Collection(TimingCollection.Name)]
public sealed class HandshakeTimeoutTests
{
    [Fact]
    public async Task A_slow_client_gets_408_when_the_handshake_timeout_passes()
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.HandshakeTimeout = TimeSpan.FromMilliseconds(300));
        await using RawClient client = await RawClient.OpenAsync(server.Port);

        await client.SendRawAsync(Encoding.ASCII.GetBytes("GET /ws HTTP/1.1\r\nHost: x\r\n"));

        Assert.Equal(408, (await client.ReadHttpAnswerAsync()).Status);
        await client.ExpectEndOfStreamAsync();
    }

    [Fact]
    public async Task A_client_that_connects_and_sends_nothing_is_dropped_after_the_handshake_timeout()
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.HandshakeTimeout = TimeSpan.FromMilliseconds(300));
        await using RawClient client = await RawClient.OpenAsync(server.Port);

        await client.ExpectEndOfStreamAsync();
    }
}
