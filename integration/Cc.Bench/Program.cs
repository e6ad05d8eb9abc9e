using Cc.Bench;
using Cc.Bench.Cri;
using Cc.Bench.Stress;
using Cc.Bench.Ttrpc;
using Cc.Bench.Vm;

// Cc.Bench: our parts measured side by side with their references, printed as markdown tables.
// Each part is one subcommand in its own folder; add yours to this list (hack/bench/NN-*.sh runs it).
BenchCommand[] commands =
[
    TtrpcBenchCommand.Command,
    TtrpcServerCommand.Command,
    VmBenchCommand.Command,
    CloneBenchCommand.Command,
    CriPodBenchCommand.Command,
    CriStressCommand.Command,
    CriStdioBenchCommand.Command,
];

return await BenchCli.RunAsync(commands, args).ConfigureAwait(false);
