using Cc.Shim.Configuration;

namespace Cc.Shim.Operate;

/// <summary>
/// The commands an operator types, beside the ones containerd runs (start, delete, the daemon):
/// <c>containerd-shim-cc-v2 check [--config PATH]</c> and <c>containerd-shim-cc-v2 env [--config PATH]</c>. They are
/// told apart by their first argument, which containerd never passes (its command lines begin with a flag), so
/// containerd's own parsing (ShimArguments) never sees them. <c>--config</c> names the file containerd's runtime
/// options would (ConfigPath); without it, the daemon's lookup applies.
/// </summary>
public static class OperatorCommands
{
    public const int ExitReady = 0;
    public const int ExitNotReady = 1;
    public const int ExitUsage = 2;

    public static bool Recognizes(IReadOnlyList<string> args) => args.Count > 0 && args[0] is "check" or "env";

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        string? configPath = null;
        for (var i = 1; i < args.Count; i++)
        {
            if (args[i] is "--config" or "-config" && i + 1 < args.Count)
            {
                configPath = args[++i];
            }
            else
            {
                stderr.WriteLine($"usage: containerd-shim-cc-v2 {args[0]} [--config PATH]");
                return ExitUsage;
            }
        }
        try
        {
            return args[0] == "check" ? Check(configPath, stdout) : Env(configPath, stdout);
        }
        catch (ConfigurationException e)
        {
            stdout.WriteLine(new HostFact("configuration", FactVerdict.Failed, e.Message).Line);
            return ExitNotReady;
        }
    }

    /// <summary>One line per fact, then a verdict line; exit 0 only when nothing failed (warnings allowed).</summary>
    public static int Check(string? configPath, TextWriter stdout)
    {
        var loaded = ConfigurationLoader.Load(configPath);
        stdout.WriteLine(new HostFact("configuration", FactVerdict.Ok, loaded.Source).Line);
        int failed = 0, warnings = 0;
        foreach (var fact in HostChecks.All(loaded.Configuration))
        {
            stdout.WriteLine(fact.Line);
            stdout.Flush();
            failed += fact.Verdict == FactVerdict.Failed ? 1 : 0;
            warnings += fact.Verdict == FactVerdict.Warning ? 1 : 0;
        }
        stdout.WriteLine(failed == 0
            ? $"ready: this host can run pods{(warnings > 0 ? $" ({warnings} warning{(warnings > 1 ? "s" : "")})" : "")}"
            : $"not ready: pods cannot run here until the FAIL line{(failed > 1 ? "s" : "")} above {(failed > 1 ? "are" : "is")} fixed ({failed})");
        return failed == 0 ? ExitReady : ExitNotReady;
    }

    /// <summary><c>table.key = value  # source</c> for every key, aligned.</summary>
    public static int Env(string? configPath, TextWriter stdout)
    {
        var entries = ConfigurationSources.Resolve(configPath);
        var width = entries.Max(e => e.Key.Length + 3 + e.Value.Length);
        foreach (var entry in entries)
        {
            var assignment = $"{entry.Key} = {entry.Value}";
            stdout.WriteLine($"{assignment.PadRight(width)}  # {entry.Source}");
        }
        // No key is read from the environment: containerd starts shims with its own environment, which an operator's
        // shell never reaches. The one run-time override is containerd's own debug level: it passes -debug to start,
        // which hands it to the daemon as it does runtime.debug = true (ShimEntry.DaemonArguments).
        stdout.WriteLine("# environment: no key is read from environment variables; the shim logs at Debug when the configuration its pod was started with says runtime.debug = true, and also when containerd runs at debug level (it passes -debug to the shim), whatever runtime.debug says");
        return ExitReady;
    }
}
