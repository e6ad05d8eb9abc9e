// containerd-shim-cc-v2: parse, configure logging (the daemon only), dispatch. Everything else is in Cc.Shim.
using Cc.Shim.Cli;
using Cc.Shim.Lifetime;
using Cc.Shim.Logging;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

// check and env: an operator's commands, never containerd's (which start with a flag).
if (Cc.Shim.Operate.OperatorCommands.Recognizes(args))
{
    return Cc.Shim.Operate.OperatorCommands.Run(args, Console.Out, Console.Error);
}

// `metrics ...`: every sandbox's metrics of this node, merged (docs/metrics.md), as kata-monitor serves them.
if (args is ["metrics", ..])
{
    return await Cc.Shim.Operate.MetricsCommand.RunAsync(args[1..], Console.Out, Console.Error);
}

// `factory ...` (VM templates, docs/templates.md) is an operator's command, not one of containerd's.
if (args is ["factory", ..])
{
    return await FactoryCommand.RunAsync(args[1..], Console.Out, Console.Error);
}

ShimArguments parsed;
try
{
    parsed = ShimArguments.Parse(args);
}
catch (ShimUsageException e)
{
    Console.Error.WriteLine($"containerd-shim-cc-v2: {e.Message}");
    return ShimEntry.ExitUsage;
}

switch (parsed.Action)
{
    case ShimAction.Version:
        Console.Out.Write(ShimVersion.Text);
        return ShimEntry.ExitOk;
    case ShimAction.Info:
        return ShimEntry.Info(Console.OpenStandardInput(), Console.OpenStandardOutput(), Console.Error);
    case ShimAction.Start:
        return ShimEntry.Start(parsed, Console.Out, Console.Error);
    case ShimAction.Delete:
        return ShimEntry.Delete(parsed, Console.OpenStandardOutput(), Console.Error);
}

// The daemon: its log is the bundle's FIFO, which containerd copies into its own log (Cc.Shim.Logging.DaemonLogging).
// Its level is the -debug flag alone: start passes it when containerd runs at debug level or when the configuration
// the pod was started with says runtime.debug = true (ShimEntry.DaemonArguments).
var logStream = LogFifo.Open(Directory.GetCurrentDirectory());
using var logging = DaemonLogging.Create(logStream is null ? null : new StreamSink(logStream),
    debug: parsed.Debug, parsed.Id, parsed.Namespace);
return await ShimEntry.DaemonAsync(parsed, logging.Factory);
