using ChatGateway.Server.Sessions;

namespace ChatGateway.Server.Tests.Chat;

/// <summary>The session's outbound queue on its own: order, bounds, completion, and a client that stops reading.</summary>
public sealed class OutboundQueueTests
{
    /// <summary>Records what a connection would have written; a write can be held open (a full TCP window) or fail.</summary>
    private sealed class Sink
    {
        private readonly List<byte> _written = [];
        public TaskCompletionSource<bool>? Hold;
        public bool Fail;
        public int Batches;

        public byte[] Written
        {
            get
            {
                lock (_written)
                {
                    return [.. _written];
                }
            }
        }

        public ValueTask<bool> WriteAsync(FrameBatch batch)
        {
            var output = new System.Buffers.ArrayBufferWriter<byte>();
            batch.WriteTo(output);
            lock (_written)
            {
                _written.AddRange(output.WrittenSpan.ToArray());
                Batches++;
            }
            if (Fail)
            {
                return ValueTask.FromResult(false);
            }
            return Hold is { } hold ? new ValueTask<bool>(hold.Task) : ValueTask.FromResult(true);
        }
    }

    /// <summary>The queue as a session derives it, writing to <paramref name="sink"/>, its members opened to the tests.</summary>
    private sealed class Queue(Sink sink, int maxFrames, long maxBytes) : OutboundQueue
    {
        protected override int MaxFrames => maxFrames;
        protected override long MaxBytes => maxBytes;
        protected override ValueTask<bool> WriteAsync(FrameBatch batch) => sink.WriteAsync(batch);
        public new EnqueueResult TryEnqueue(OutboundFrame frame) => base.TryEnqueue(frame);
        public new EnqueueResult TryEnqueueSmall(ReadOnlySpan<byte> payload) => base.TryEnqueueSmall(payload);
        public new long QueuedBytes => base.QueuedBytes;
        public void Complete() => CompleteOutbound();
        public void BeginInput() => BeginOwnInput();
        public void EndInput() => EndOwnInput();
    }

    private static OutboundFrame Frame(byte value, int payload = 1)
    {
        OutboundFrame frame = OutboundFrame.Rent(payload);
        System.Buffers.IBufferWriter<byte> writer = frame;
        writer.GetSpan(payload)[..payload].Fill(value);
        writer.Advance(payload);
        return frame.Seal();
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(5, timeout.Token);
        }
    }

    /// <summary>The payload bytes of what was written (each frame here: 2-byte header, 1-byte payload).</summary>
    private static byte[] Payloads(byte[] written) => [.. written.Where((_, i) => i % 3 == 2)];

    [Fact]
    public async Task Frames_from_many_threads_are_all_written_and_each_thread_s_frames_stay_in_order()
    {
        var sink = new Sink();
        var queue = new Queue(sink, maxFrames: 100_000, maxBytes: 1 << 30);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (int i = 0; i < 2_000; i++)
            {
                Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueue(Frame((byte)(t * 50 + i % 50))));
            }
        })));
        await WaitUntilAsync(() => sink.Written.Length == 8_000 * 3 && queue.QueuedBytes == 0);

        byte[] payloads = Payloads(sink.Written);
        for (int t = 0; t < 4; t++)
        {
            byte[] mine = [.. payloads.Where(b => b / 50 == t)];
            Assert.Equal(2_000, mine.Length);
            Assert.Equal(Enumerable.Range(0, 2_000).Select(i => (byte)(t * 50 + i % 50)), mine);
        }
        Assert.True(sink.Batches < 8_000, "frames that wait together leave in one write");
    }

    [Fact]
    public async Task Answers_queued_while_the_session_handles_its_own_input_are_written_by_that_thread_when_it_ends()
    {
        var sink = new Sink();
        var queue = new Queue(sink, maxFrames: 100, maxBytes: 1 << 20);

        queue.BeginInput();
        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueueSmall([1]));
        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueue(Frame(2)));
        // Another thread's frame meanwhile (a Deliver from a shard's writer) joins the drain this thread owes. Joined,
        // not awaited: the handling is one synchronous stretch on one thread, which an await would leave.
        OutboundQueue.EnqueueResult other = default;
        var writer = new Thread(() => other = queue.TryEnqueue(Frame(3)));
        writer.Start();
        writer.Join();
        Assert.Equal(OutboundQueue.EnqueueResult.Queued, other);
        Assert.Equal(0, sink.Batches); // no drain was handed to the pool: nothing could have been written
        queue.EndInput();

        Assert.Equal(1, sink.Batches); // written here, before EndInput returned, all in one write
        Assert.Equal([[1], [2], [3]], FramePayloads(sink.Written));
        Assert.Equal(0, queue.QueuedBytes);

        // Outside the session's own input, an answer is drained on the pool as before.
        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueueSmall([4]));
        await WaitUntilAsync(() => sink.Batches == 2);
        Assert.Equal([[1], [2], [3], [4]], FramePayloads(sink.Written));
    }

    [Fact]
    public async Task Drains_deferred_over_a_store_batch_s_outcomes_run_on_that_thread_once_per_queue_at_its_end()
    {
        Sink[] sinks = [new(), new(), new()];
        Queue[] queues = [.. sinks.Select(sink => new Queue(sink, maxFrames: 100, maxBytes: 1 << 20))];

        OutboundQueue.DeferDrains(); // what a sequencer does on the store's writer before a batch's outcomes
        try
        {
            for (byte round = 1; round <= 3; round++)
            {
                foreach (Queue queue in queues)
                {
                    Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueue(Frame(round)));
                    Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueueSmall([(byte)(round + 10)]));
                }
            }
            Assert.All(sinks, sink => Assert.Equal(0, sink.Batches)); // owed, not handed to the pool
        }
        finally
        {
            OutboundQueue.RunDeferredDrains();
        }

        // Written before RunDeferredDrains returned: one write per queue with all of its frames, in order.
        Assert.All(sinks, sink => Assert.Equal(1, sink.Batches));
        Assert.All(sinks, sink => Assert.Equal([[1], [11], [2], [12], [3], [13]], FramePayloads(sink.Written)));

        // Outside the bracket, a frame is drained on the pool as before.
        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queues[0].TryEnqueue(Frame(4)));
        await WaitUntilAsync(() => sinks[0].Batches == 2);
    }

    [Fact]
    public void Past_its_bound_of_owed_drains_a_thread_hands_further_drains_to_the_pool()
    {
        const int Bound = 1024; // a batch into a 1,000-member group with everyone online fits
        Sink[] sinks = [.. Enumerable.Range(0, Bound + 1).Select(_ => new Sink())];
        Queue[] queues = [.. sinks.Select(sink => new Queue(sink, maxFrames: 100, maxBytes: 1 << 20))];

        OutboundQueue.DeferDrains();
        try
        {
            foreach (Queue queue in queues)
            {
                queue.TryEnqueue(Frame(1));
            }
            // The one past the bound is drained on the pool while this thread still owes the others. Waited for here,
            // synchronously: the bracket belongs to this thread, which an await could leave.
            Assert.True(SpinWait.SpinUntil(() => sinks[Bound].Batches == 1, TimeSpan.FromSeconds(10)));
            Assert.All(sinks[..Bound], sink => Assert.Equal(0, sink.Batches));
        }
        finally
        {
            OutboundQueue.RunDeferredDrains();
        }
        Assert.All(sinks, sink => Assert.Equal(1, sink.Batches));
    }

    [Fact]
    public async Task A_client_that_does_not_read_fills_the_frame_bound_then_frames_are_refused()
    {
        var sink = new Sink { Hold = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously) };
        var queue = new Queue(sink, maxFrames: 16, maxBytes: 1 << 20);

        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueue(Frame(1)));
        await WaitUntilAsync(() => sink.Batches == 1); // the first write hangs: the client's window is full
        for (int i = 0; i < 16; i++)
        {
            Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueue(Frame(2)));
        }
        Assert.Equal(OutboundQueue.EnqueueResult.Full, queue.TryEnqueue(Frame(3)));

        sink.Hold.SetResult(true); // the client reads again: the backlog drains
        await WaitUntilAsync(() => queue.QueuedBytes == 0);
        Assert.Equal([1, .. Enumerable.Repeat((byte)2, 16)], Payloads(sink.Written));
        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueue(Frame(4)));
    }

    [Fact]
    public async Task The_byte_bound_counts_the_batch_being_written()
    {
        var sink = new Sink { Hold = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously) };
        var queue = new Queue(sink, maxFrames: 1_000, maxBytes: 1_000);

        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueue(Frame(1, payload: 600)));
        await WaitUntilAsync(() => sink.Batches == 1);

        Assert.Equal(OutboundQueue.EnqueueResult.Full, queue.TryEnqueue(Frame(2, payload: 600)));
        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueue(Frame(3, payload: 100)));
        sink.Hold.SetResult(true);
        await WaitUntilAsync(() => queue.QueuedBytes == 0);
    }

    [Fact]
    public async Task Completing_drops_what_waits_and_refuses_more()
    {
        var sink = new Sink { Hold = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously) };
        var queue = new Queue(sink, maxFrames: 100, maxBytes: 1 << 20);
        queue.TryEnqueue(Frame(1));
        await WaitUntilAsync(() => sink.Batches == 1);
        queue.TryEnqueue(Frame(2));
        queue.TryEnqueue(Frame(3));

        queue.Complete();
        sink.Hold.SetResult(true);
        await WaitUntilAsync(() => queue.QueuedBytes == 0);

        Assert.Equal([1], Payloads(sink.Written)); // 2 and 3 were dropped: the client syncs on reconnect
        Assert.Equal(OutboundQueue.EnqueueResult.Closed, queue.TryEnqueue(Frame(4)));
    }

    [Fact]
    public async Task A_failed_write_completes_the_queue()
    {
        var sink = new Sink { Fail = true };
        var queue = new Queue(sink, maxFrames: 100, maxBytes: 1 << 20);

        queue.TryEnqueue(Frame(1));
        await WaitUntilAsync(() => queue.QueuedBytes == 0 && sink.Batches == 1);

        Assert.Equal(OutboundQueue.EnqueueResult.Closed, queue.TryEnqueue(Frame(2)));
    }

    /// <summary>The payloads of the written frames, in order (every frame here has a 2-byte header: binary, FIN, length under 126).</summary>
    private static List<byte[]> FramePayloads(byte[] written)
    {
        var payloads = new List<byte[]>();
        for (int at = 0; at < written.Length;)
        {
            Assert.Equal(0x82, written[at]); // FIN + binary: each answer is a complete frame of its own
            int length = written[at + 1];
            payloads.Add(written[(at + 2)..(at + 2 + length)]);
            at += 2 + length;
        }
        return payloads;
    }

    [Fact]
    public async Task Small_answers_waiting_together_share_one_queue_entry_and_still_leave_as_frames_of_their_own_in_order()
    {
        var hold = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sink = new Sink { Hold = hold };
        var queue = new Queue(sink, maxFrames: 2, maxBytes: 1 << 20);
        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueueSmall([0]));
        await WaitUntilAsync(() => sink.Batches == 1); // that answer's write hangs; what follows waits

        // 100 answers in one entry where the frame bound is 2: one pooled frame for all of them.
        for (int i = 1; i <= 100; i++)
        {
            Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueueSmall([(byte)i, (byte)(i * 7)]));
        }
        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueue(Frame(200))); // the second entry
        Assert.Equal(OutboundQueue.EnqueueResult.Full, queue.TryEnqueueSmall([201])); // an ordinary frame is never appended to
        Assert.Equal(OutboundQueue.EnqueueResult.Full, queue.TryEnqueue(Frame(202)));

        sink.Hold = null; // the client reads again
        hold.SetResult(true);
        await WaitUntilAsync(() => queue.QueuedBytes == 0);

        List<byte[]> payloads = FramePayloads(sink.Written);
        Assert.Equal(102, payloads.Count);
        Assert.Equal([0], payloads[0]);
        for (int i = 1; i <= 100; i++)
        {
            Assert.Equal([(byte)i, (byte)(i * 7)], payloads[i]);
        }
        Assert.Equal([200], payloads[101]);
    }

    [Fact]
    public async Task An_entry_the_drain_has_taken_is_not_extended()
    {
        var hold = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sink = new Sink { Hold = hold };
        var queue = new Queue(sink, maxFrames: 16, maxBytes: 1 << 20);
        queue.TryEnqueueSmall([1]);
        await WaitUntilAsync(() => sink.Batches == 1); // its entry left the queue: it is being written

        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueueSmall([2]));
        sink.Hold = null;
        hold.SetResult(true);
        await WaitUntilAsync(() => queue.QueuedBytes == 0 && sink.Batches == 2);

        Assert.Equal([[1], [2]], FramePayloads(sink.Written)); // [2] written into the first entry would be lost here
    }

    [Fact]
    public async Task Each_small_answer_counts_against_the_byte_bound()
    {
        var hold = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sink = new Sink { Hold = hold };
        var queue = new Queue(sink, maxFrames: 16, maxBytes: 10);
        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueueSmall([1, 2, 3])); // 5 bytes with its header
        await WaitUntilAsync(() => sink.Batches == 1);

        Assert.Equal(OutboundQueue.EnqueueResult.Queued, queue.TryEnqueueSmall([4, 5, 6])); // 10
        Assert.Equal(OutboundQueue.EnqueueResult.Full, queue.TryEnqueueSmall([7]));       // 13 > 10
        Assert.Equal(10, queue.QueuedBytes);
        sink.Hold = null;
        hold.SetResult(true);
        await WaitUntilAsync(() => queue.QueuedBytes == 0);
        Assert.Equal([[1, 2, 3], [4, 5, 6]], FramePayloads(sink.Written));
    }
}
