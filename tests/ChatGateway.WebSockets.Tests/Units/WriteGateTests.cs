using ChatGateway.WebSockets.Connections;

namespace ChatGateway.WebSockets.Tests.Units;

/// <summary>The connection's write gate: one writer at a time, waiters served first come first served, and a waiter that gives up never holds it.</summary>
public sealed class WriteGateTests
{
    // The gate lives in its owner as a field, as in WebSocketConnection; the owner is also the monitor for its waiters.
    private sealed class Owner
    {
        public WriteGate Gate;

        public Task Enter()
        {
            if (Gate.TryEnter())
            {
                return Task.CompletedTask;
            }
            return Gate.EnterOrQueue(this)?.Task ?? Task.CompletedTask;
        }

        public void Exit() => Gate.Exit(this);
    }

    [Fact]
    public async Task A_free_gate_is_taken_at_once_and_is_free_again_after_exit()
    {
        var owner = new Owner();

        Assert.True(owner.Gate.TryEnter());
        Assert.False(owner.Gate.TryEnter());
        owner.Exit();
        Assert.True(owner.Gate.TryEnter());
        owner.Exit();
        await owner.Enter(); // free: completes at once
    }

    [Fact]
    public async Task Waiters_get_the_gate_one_at_a_time_in_the_order_they_came()
    {
        var owner = new Owner();
        Assert.True(owner.Gate.TryEnter());
        Task first = owner.Enter();
        Task second = owner.Enter();
        Task third = owner.Enter();
        Assert.False(first.IsCompleted);

        owner.Exit();
        await first.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(second.IsCompleted);
        Assert.False(third.IsCompleted);
        Assert.False(owner.Gate.TryEnter()); // handed over, not freed

        owner.Exit();
        await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(third.IsCompleted);

        owner.Exit();
        await third.WaitAsync(TimeSpan.FromSeconds(10));
        owner.Exit();
        Assert.True(owner.Gate.TryEnter()); // the last exit freed it
    }

    [Fact]
    public async Task A_waiter_that_gives_up_is_skipped_and_never_holds_the_gate()
    {
        var owner = new Owner();
        Assert.True(owner.Gate.TryEnter());
        TaskCompletionSource quitter = owner.Gate.EnterOrQueue(owner)!;
        Task patient = owner.Enter();

        Assert.False(owner.Gate.Abandon(quitter, owner)); // not handed over: it does not hold the gate
        owner.Exit();

        await patient.WaitAsync(TimeSpan.FromSeconds(10)); // the next waiter got it
        Assert.True(quitter.Task.IsCanceled);
        owner.Exit();
        Assert.True(owner.Gate.TryEnter());
    }

    [Fact]
    public async Task A_waiter_handed_the_gate_before_it_gives_up_holds_it_and_must_exit()
    {
        var owner = new Owner();
        Assert.True(owner.Gate.TryEnter());
        TaskCompletionSource waiter = owner.Gate.EnterOrQueue(owner)!;
        owner.Exit(); // handed over

        Assert.True(owner.Gate.Abandon(waiter, owner)); // too late to give up: it holds the gate
        Assert.False(owner.Gate.TryEnter());
        owner.Exit();
        Assert.True(owner.Gate.TryEnter());
        await waiter.Task;
    }

    [Fact]
    public async Task Writers_on_many_threads_never_overlap()
    {
        var owner = new Owner();
        int inside = 0;
        int overlaps = 0;
        long total = 0;
        Task[] writers = [.. Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            for (int i = 0; i < 20_000; i++)
            {
                await owner.Enter();
                if (Interlocked.Increment(ref inside) != 1)
                {
                    Interlocked.Increment(ref overlaps);
                }
                total++; // not atomic: only exclusion keeps the count exact
                if (i % 64 == 0)
                {
                    await Task.Yield(); // hold the gate across an await, as a flush does
                }
                Interlocked.Decrement(ref inside);
                owner.Exit();
            }
        }))];

        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(0, overlaps);
        Assert.Equal(8 * 20_000, total);
        Assert.True(owner.Gate.TryEnter());
    }
}
