using System.Buffers;
using System.Security.Cryptography;
using ChatGateway.LoadTest;
using ChatGateway.LoadTest.Client;
using ChatGateway.LoadTest.Scenarios;
using ChatGateway.LoadTest.Targets;

namespace ChatGateway.Bench.Tests;

/// <summary>
/// Every server of the bench suite, started as its own process the way `./run.sh bench e2e` starts it, relays a
/// message between two load-generator clients speaking its dialect: the suite cannot rot unnoticed.
/// </summary>
public sealed class RelayTests
{
    private static readonly string Secret = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));

    /// <summary>Remembers what arrived, and signals each arrival.</summary>
    private sealed class Inbox : IInbound
    {
        public readonly List<byte[]> Delivered = [];
        public int Acks;
        public readonly SemaphoreSlim Arrived = new(0);

        public void OnAck()
        {
            Interlocked.Increment(ref Acks);
            Arrived.Release();
        }

        public void OnDeliver(ReadOnlySpan<byte> body)
        {
            lock (Delivered)
            {
                Delivered.Add(body.ToArray());
            }
            Arrived.Release();
        }
    }

    [Theory]
    [InlineData("gateway")]
    [InlineData("signalr")]
    [InlineData("websockets")]
    [InlineData("node-ws")]
    [InlineData("tcp")]
    public async Task A_message_goes_from_sender_to_receiver_and_the_sender_gets_an_ack(string server)
    {
        ServerKind kind = ServerKinds.Parse(server);
        await using ServerUnderTest target = await ServerUnderTest.StartAsync(kind, Secret, []);
        Wire wire = Wire.For(kind, Secret);
        using LoadConnection receiver = await wire.ConnectAsync(target.EndPoint, 700_002, CancellationToken.None);
        using LoadConnection sender = await wire.ConnectAsync(target.EndPoint, 700_001, CancellationToken.None);
        await target.MeasureMemoryAsync(2); // both sessions registered: nothing is sent to a receiver not yet known
        var toReceiver = new Inbox();
        var toSender = new Inbox();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Task receiving = Workers.ReceiveLoopAsync(receiver, wire, toReceiver, stop.Token);
        Task draining = Workers.ReceiveLoopAsync(sender, wire, toSender, stop.Token);

        byte[] body = [.. Enumerable.Range(0, 100).Select(i => (byte)i)];
        var send = new ArrayBufferWriter<byte>();
        wire.WriteSend(send, 700_002, 1, body);
        sender.Append(send.WrittenSpan);
        await sender.FlushAsync(stop.Token);

        await toReceiver.Arrived.WaitAsync(stop.Token);
        await toSender.Arrived.WaitAsync(stop.Token);
        Assert.Equal(body, Assert.Single(toReceiver.Delivered));
        Assert.Equal(1, toSender.Acks);
        Assert.Empty(toSender.Delivered);
    }

    /// <summary>
    /// The `rate` worker's loop, against the raw TCP relay and the gateway: every message due in the window is sent
    /// and delivered once, each delivery gets a latency and each send a lag. A lost, doubled or unsent message, or a
    /// loop that stopped receiving, changes a count.
    /// </summary>
    [Theory]
    [InlineData("tcp")]
    [InlineData("gateway-relaxed")]
    public async Task The_rate_loop_sends_every_message_due_in_its_window_and_receives_each_delivery(string server)
    {
        ServerKind kind = ServerKinds.Parse(server);
        await using ServerUnderTest target = await ServerUnderTest.StartAsync(kind, Secret, []);
        Wire wire = Wire.For(kind, Secret);
        const int pairs = 10;
        const double rate = 400; // 40 messages/s per sender: under the gateway's default request rate
        const double measure = 1.5;
        LoadConnection.BlockingSockets = true; // as the worker process sets it; this class's tests run one at a time
        (LoadConnection[] senders, LoadConnection[] receivers) = (null!, null!);
        try
        {
            (senders, receivers) = await Workers.ConnectPairsAsync(wire, target.EndPoint, pairs);
        }
        finally
        {
            LoadConnection.BlockingSockets = false;
        }
        await target.MeasureMemoryAsync(2 * pairs); // every session registered before the first message
        RateWorker.RateOutcome outcome = RateWorker.Measure(wire, senders, receivers, rate, warmup: 0.3, measure);
        foreach (LoadConnection connection in senders.Concat(receivers))
        {
            connection.Dispose();
        }

        Assert.InRange(outcome.Sent, (long)(rate * measure) - 1, (long)(rate * measure) + 1);
        Assert.Equal(outcome.Sent, outcome.Latency.TotalCount);
        Assert.Equal(outcome.Sent, outcome.SendLag.TotalCount);
        Assert.InRange(outcome.Latency.GetValueAtPercentile(50), 1, 1_000_000); // µs: delivered after it was due, within a second
    }
}
