using ChatGateway.Server.Auth;
using ChatGateway.Server.Sessions;

namespace ChatGateway.Server.Tests.Chat;

/// <summary>The registry of open sessions on its own: the per-user limit, removal, and changes racing on one user.</summary>
public sealed class SessionRegistryTests
{
    private const long User = 42;

    [Fact]
    public async Task Registering_past_the_limit_evicts_the_oldest_and_unregistering_the_last_forgets_the_user()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        var registry = new SessionRegistry(maxPerUser: 2);
        ChatSession first = NewSession(server), second = NewSession(server), third = NewSession(server);

        Assert.Null(registry.Register(first));
        Assert.Null(registry.Register(second));
        Assert.Same(first, registry.Register(third));
        Assert.Equal([second, third], registry.SessionsOf(User));
        Assert.Equal(2, registry.Count);

        registry.Unregister(first); // evicted already: nothing changes
        Assert.Equal(2, registry.Count);
        registry.Unregister(second);
        Assert.Equal([third], registry.SessionsOf(User));
        registry.Unregister(third);
        Assert.Empty(registry.SessionsOf(User));
        Assert.Equal(0, registry.Count);
        Assert.Empty(registry.All());
    }

    [Fact]
    public async Task Sessions_of_one_user_registering_and_leaving_on_many_threads_are_never_lost_or_counted_twice()
    {
        await using ChatTestServer server = await ChatTestServer.StartAsync();
        var registry = new SessionRegistry(maxPerUser: 64);
        const int Threads = 8, Rounds = 20_000;
        ChatSession[] sessions = Enumerable.Range(0, Threads).Select(_ => NewSession(server)).ToArray();
        int missing = 0;
        using var start = new Barrier(Threads);
        Task[] workers = sessions.Select(session => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            for (int i = 0; i < Rounds; i++)
            {
                registry.Register(session);
                if (Array.IndexOf(registry.SessionsOf(User), session) < 0)
                {
                    Interlocked.Increment(ref missing); // another thread's swap overwrote this registration
                }
                registry.Unregister(session);
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(workers);

        Assert.Equal(0, missing);
        Assert.Equal(0, registry.Count);
        Assert.Empty(registry.SessionsOf(User));
    }

    private static ChatSession NewSession(ChatTestServer server) =>
        new(server.Node, new AuthenticatedUser(User, ExpiresAtMs: long.MaxValue));
}
