using ChatGateway.LoadTest;
using ChatGateway.LoadTest.Targets;

namespace ChatGateway.Bench.Tests;

/// <summary>The load generator's command line: what it runs by default, and that a mistake is an error, never a silent default.</summary>
public sealed class CommandLineTests
{
    [Fact]
    public void No_arguments_run_every_scenario_against_every_server_with_the_documented_defaults()
    {
        CommandLine command = CommandLine.Parse([]);

        Assert.False(command.Help);
        Assert.Equal("all", command.Scenario);
        Assert.False(command.Quick);
        Assert.Equal(
            [ServerKind.Gateway, ServerKind.GatewayRelaxed, ServerKind.SignalR, ServerKind.AspNetWebSockets, ServerKind.NodeWs, ServerKind.RawTcp],
            command.Servers);
        Assert.Equal([1000, 5000, 10000, 18000], command.Steps);
        Assert.Equal((100, 64, 20000d, 15d, 5d, 3, 1),
            (command.Pairs, command.Window, command.Rate, command.Seconds, command.Warmup, command.Passes, command.Repeat));
        Assert.Null(command.Out);
    }

    [Fact]
    public void A_scenario_and_options_are_taken_in_any_order_and_quick_shortens_the_defaults()
    {
        CommandLine command = CommandLine.Parse(["--servers", "gateway-relaxed,tcp", "pairs", "--quick", "--seconds", "30", "--warmup", "0"]);

        Assert.Equal("pairs", command.Scenario);
        Assert.True(command.Quick);
        Assert.Equal([ServerKind.GatewayRelaxed, ServerKind.RawTcp], command.Servers);
        Assert.Equal(30d, command.Seconds); // given: the quick default (3) does not apply
        Assert.Equal(0d, command.Warmup);
        Assert.Equal([1000, 4000], command.Steps); // not given: the quick default
        Assert.Equal(4d, CommandLine.Parse(["--quick"]).Warmup); // long enough for the gateway's JIT to tier up
        Assert.Equal(1, command.Passes); // quick: one pass of pairs and rate
        Assert.Equal(2, CommandLine.Parse(["--quick", "--passes", "2"]).Passes);
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    public void Help_asks_for_the_usage_text_and_runs_nothing(string arg)
    {
        Assert.True(CommandLine.Parse(["pairs", arg]).Help);
        Assert.Contains("--servers LIST", CommandLine.Usage);
    }

    [Theory]
    [InlineData(new[] { "--second", "30" }, "unknown option '--second'")]
    [InlineData(new[] { "pair" }, "unknown scenario 'pair'")]
    [InlineData(new[] { "pairs", "rate" }, "one scenario at a time")]
    [InlineData(new[] { "--servers", "gateway,redis" }, "unknown server 'redis'")]
    [InlineData(new[] { "--seconds" }, "--seconds needs a value")]
    [InlineData(new[] { "--seconds", "--quick" }, "--seconds needs a value")]
    [InlineData(new[] { "--pairs", "0" }, "--pairs takes a positive whole number, not '0'")]
    [InlineData(new[] { "--steps", "1000,lots" }, "--steps takes a positive whole number, not 'lots'")]
    [InlineData(new[] { "--rate", "-5" }, "--rate takes a positive number")]
    [InlineData(new[] { "--warmup", "NaN" }, "--warmup takes a number, 0 or more, not 'NaN'")]
    [InlineData(new[] { "--passes", "0" }, "--passes takes a positive whole number, not '0'")]
    public void A_mistake_is_refused_with_a_message_that_names_it(string[] args, string message)
    {
        UsageException error = Assert.Throws<UsageException>(() => CommandLine.Parse(args));
        Assert.Contains(message, error.Message);
    }
}
