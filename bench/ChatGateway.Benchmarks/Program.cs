using BenchmarkDotNet.Running;

// `./run.sh bench micro [filter]` lands here: e.g. `--filter '*FrameParse*'`.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
