using System.Buffers;
using System.Net.WebSockets;
using ChatGateway.WebSockets.Connections;
using ChatGateway.WebSockets.Framing;
using ChatGateway.WebSockets.Handshake;
using ChatGateway.WebSockets.Tests.Infrastructure;

namespace ChatGateway.WebSockets.Tests.Transport;

/// <summary>
/// Over the real server and a real client: an open WebSocket's lone input is handled on the transport's poller when
/// <see cref="WebSocketServerOptions.HandleInputOnPoller"/> is on (on the pool when off), the handshake never is,
/// and each read's messages come inside the session's <see cref="IWebSocketSession.OnInputStarting"/> /
/// <see cref="IWebSocketSession.OnInputHandled"/> bracket, on one thread.
/// </summary>
public sealed class InputOnPollerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>Echoes each message and records, in order, the calls around it with their threads.</summary>
    private sealed class RecordingApplication : IWebSocketApplication, IWebSocketSession
    {
        public readonly List<(string Call, int Thread, bool OnPoller)> Calls = [];
        public bool AcceptedOnPoller;

        /// <summary>Set once the read that held a message has been handled: the echo can reach the client before that.</summary>
        public readonly TaskCompletionSource MessageHandled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask<WebSocketAcceptDecision> AcceptAsync(WebSocketUpgradeRequest request, CancellationToken cancellationToken)
        {
            AcceptedOnPoller = WebSocketConnection.IsOnPollerThread;
            return ValueTask.FromResult(WebSocketAcceptDecision.Accept(this));
        }

        public void OnOpened(WebSocketConnection connection)
        {
        }

        public void OnInputStarting() => Record("starting");

        public ValueTask OnMessageAsync(WebSocketConnection connection, WebSocketOpcode type, ReadOnlySequence<byte> payload)
        {
            Record("message");
            return IgnoreResult(connection.SendAsync(type, payload));
        }

        public void OnInputHandled()
        {
            Record("handled");
            if (Snapshot().Any(c => c.Call == "message"))
            {
                MessageHandled.TrySetResult();
            }
        }

        public void OnClosed(WebSocketConnection connection, ushort closeCode)
        {
        }

        public (string Call, int Thread, bool OnPoller)[] Snapshot()
        {
            lock (Calls)
            {
                return [.. Calls];
            }
        }

        private void Record(string call)
        {
            lock (Calls)
            {
                Calls.Add((call, Environment.CurrentManagedThreadId, WebSocketConnection.IsOnPollerThread));
            }
        }

        private static async ValueTask IgnoreResult(ValueTask<bool> send) => await send.ConfigureAwait(false);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_lone_message_is_handled_on_the_poller_only_when_allowed_inside_one_bracket_on_one_thread(bool allowed)
    {
        var application = new RecordingApplication();
        await using EchoServer server = await EchoServer.StartAsync(o => o.HandleInputOnPoller = allowed, application);
        Assert.Equal("DirectSocketTransportFactory", server.TransportName);
        using var client = new ClientWebSocket();
        await client.ConnectAsync(server.WebSocketUri, CancellationToken.None);

        await client.SendAsync("one"u8.ToArray(), WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
        var answer = new byte[16];
        ValueWebSocketReceiveResult received = await client.ReceiveAsync(answer.AsMemory(), CancellationToken.None).AsTask().WaitAsync(Timeout);
        Assert.Equal("one"u8.ToArray(), answer[..received.Count]);
        await application.MessageHandled.Task.WaitAsync(Timeout);

        (string Call, int Thread, bool OnPoller)[] calls = application.Snapshot();
        Assert.Equal(["starting", "message", "handled"], calls.Select(c => c.Call));
        Assert.All(calls, c => Assert.Equal(calls[0].Thread, c.Thread));
        Assert.All(calls, c => Assert.Equal(allowed, c.OnPoller));
        Assert.False(application.AcceptedOnPoller); // the handshake runs on the pool either way

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
    }
}
