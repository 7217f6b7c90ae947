namespace ChatGateway.WebSockets.Tests.Infrastructure;

/// <summary>
/// Tests that depend on deadlines (idle, keep-alive, handshake timeouts) run alone, after the rest: with
/// ~190 tests in parallel on two cores, a client's continuation can be late by a second, which says
/// nothing about the server.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingCollection
{
    public const string Name = "Deadlines";
}
