using ChatGateway.Storage.Writing;

namespace ChatGateway.Storage.Tests;

/// <summary>
/// The writer's bounded queue on its own: its bound, writes waiting for room in arrival order, batches taken oldest
/// first, the reader's wait, closing, and many writers at once losing nothing.
/// </summary>
public sealed class WriteQueueTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static WriteCommand Command(long seq)
    {
        WriteCommand command = WriteCommand.Rent(WriteKind.AppendMessage);
        command.Seq = seq;
        return command;
    }

    private static List<long> Take(WriteQueue queue, int max)
    {
        var taken = new List<WriteCommand>();
        queue.TakeUpTo(taken, max);
        return taken.ConvertAll(c => c.Seq);
    }

    [Fact]
    public void A_full_queue_refuses_at_once_and_takes_again_once_the_reader_has_made_room()
    {
        var queue = new WriteQueue(capacity: 3);
        Assert.True(queue.TryWrite(Command(1)));
        Assert.True(queue.TryWrite(Command(2)));
        Assert.True(queue.TryWrite(Command(3)));

        Assert.False(queue.TryWrite(Command(4)));

        Assert.Equal([1, 2], Take(queue, max: 2));
        Assert.True(queue.TryWrite(Command(5)));
        Assert.True(queue.TryWrite(Command(6)));
        Assert.False(queue.TryWrite(Command(7)));
        Assert.Equal([3, 5, 6], Take(queue, max: 10));
        Assert.True(queue.IsEmpty);
    }

    [Fact]
    public async Task Writes_that_wait_for_room_are_admitted_in_arrival_order_as_the_reader_takes()
    {
        var queue = new WriteQueue(capacity: 2);
        Assert.True(await queue.WriteAsync(Command(1)));
        Assert.True(await queue.WriteAsync(Command(2)));
        ValueTask<bool> third = queue.WriteAsync(Command(3));
        ValueTask<bool> fourth = queue.WriteAsync(Command(4));
        Assert.False(third.IsCompleted);
        Assert.False(fourth.IsCompleted);
        Assert.False(queue.TryWrite(Command(99))); // full, and those waiting come first

        Assert.Equal([1], Take(queue, max: 1));
        Assert.True(await third.AsTask().WaitAsync(Patience));
        Assert.False(fourth.IsCompleted);

        Assert.Equal([2, 3], Take(queue, max: 10));
        Assert.True(await fourth.AsTask().WaitAsync(Patience));
        Assert.Equal([4], Take(queue, max: 10));
    }

    [Fact]
    public async Task The_reader_waits_until_a_write_arrives_and_after_closing_takes_what_is_left_before_it_is_told_the_end()
    {
        var queue = new WriteQueue(capacity: 8);
        ValueTask<bool> wait = queue.WaitToReadAsync();
        Assert.False(wait.IsCompleted);

        Assert.True(queue.TryWrite(Command(1)));
        Assert.True(await wait.AsTask().WaitAsync(Patience));
        Assert.True(await queue.WaitToReadAsync()); // still there: completes at once
        Assert.True(queue.TryWrite(Command(2)));

        queue.Close();
        Assert.False(queue.TryWrite(Command(3)));
        Assert.False(await queue.WriteAsync(Command(4)));
        Assert.True(await queue.WaitToReadAsync());
        Assert.Equal([1, 2], Take(queue, max: 10));
        Assert.False(await queue.WaitToReadAsync());
    }

    [Fact]
    public async Task Closing_wakes_a_waiting_reader_with_the_end_and_refuses_writes_waiting_for_room()
    {
        var queue = new WriteQueue(capacity: 1);
        Assert.True(queue.TryWrite(Command(1)));
        ValueTask<bool> waitingForRoom = queue.WriteAsync(Command(2));
        Assert.Equal([1], Take(queue, max: 1)); // admits the waiting write
        Assert.True(await waitingForRoom.AsTask().WaitAsync(Patience));
        ValueTask<bool> refused = queue.WriteAsync(Command(3));
        Assert.False(refused.IsCompleted);

        queue.Close();
        Assert.False(await refused.AsTask().WaitAsync(Patience));
        Assert.Equal([2], Take(queue, max: 10));

        var empty = new WriteQueue(capacity: 1);
        ValueTask<bool> wait = empty.WaitToReadAsync();
        empty.Close();
        Assert.False(await wait.AsTask().WaitAsync(Patience));
    }

    [Fact]
    public async Task Many_writers_at_once_lose_nothing_and_each_writers_commands_arrive_in_its_order()
    {
        const int Writers = 8, PerWriter = 20_000;
        var queue = new WriteQueue(capacity: 256); // small: writers keep meeting a full queue and the waiting reader
        var seen = new List<long>(Writers * PerWriter);
        Task reader = Task.Run(async () =>
        {
            var batch = new List<WriteCommand>();
            while (await queue.WaitToReadAsync())
            {
                queue.TakeUpTo(batch, 64);
                foreach (WriteCommand command in batch)
                {
                    seen.Add(command.Seq);
                }
                batch.Clear();
            }
        });
        Task[] writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            for (int i = 0; i < PerWriter; i++)
            {
                long seq = (long)w * PerWriter + i;
                if (i % 2 == 0)
                {
                    Assert.True(await queue.WriteAsync(Command(seq)));
                }
                else
                {
                    while (!queue.TryWrite(Command(seq)))
                    {
                        await Task.Yield(); // full: as a caller answering busy would, try again later
                    }
                }
            }
        })).ToArray();
        await Task.WhenAll(writers).WaitAsync(Patience);
        queue.Close();
        await reader.WaitAsync(Patience);

        Assert.Equal(Writers * PerWriter, seen.Count);
        var next = new long[Writers];
        foreach (long seq in seen)
        {
            int writer = (int)(seq / PerWriter);
            Assert.Equal(writer * (long)PerWriter + next[writer], seq);
            next[writer]++;
        }
    }
}
