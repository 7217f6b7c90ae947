using BenchmarkDotNet.Running;
using ChatGateway.Benchmarks.Storage;

// `./run.sh bench micro [filter]` runs the BenchmarkDotNet suites (e.g. `--filter '*FrameParse*'`);
// `./run.sh bench recovery [messages]` measures crash recovery time;
// `./run.sh bench growth [seconds] [commit]` one sequencer shard's rate as its store fills.
return args.FirstOrDefault() switch
{
    "growth" => await ChatGateway.Benchmarks.Messaging.SequencerGrowthMeasurement.RunAsync(args),
    "recovery" => await RecoveryMeasurement.RunAsync(args),
    "recovery-writer" => await RecoveryMeasurement.WriteAsync(args),
    "presence" => await ChatGateway.Benchmarks.Presence.PresenceMeasurement.RunAsync(args),
    _ => Run(args),
};

static int Run(string[] args)
{
    BenchmarkSwitcher.FromAssembly(typeof(RecoveryMeasurement).Assembly).Run(args);
    return 0;
}
