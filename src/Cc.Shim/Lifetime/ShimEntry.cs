using System.Net.Sockets;
using Cc.Hypervisor.Native;
using Cc.Shim.Cli;
using Cc.Shim.Configuration;
using Cc.Shim.Events;
using Cc.Shim.Sandbox;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Lifetime;

/// <summary>
/// What Program.cs calls for each action. Kept here, not in the executable, so the executable only parses, configures
/// Serilog and dispatches. start, delete, -v and -info write exactly their output; errors go to stderr and an exit code.
/// </summary>
public static class ShimEntry
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitUsage = 2;

    public static int Start(ShimArguments args, TextWriter stdout, TextWriter stderr) =>
        Start(args, Console.OpenStandardInput(), stdout, stderr, StartCommand.SpawnSelf, SocketAddress.DefaultDirectory,
            Directory.GetCurrentDirectory(), null);

    /// <summary>
    /// <c>start</c> with its inputs explicit (tests): <paramref name="stdin"/> carries containerd's runtime options Any
    /// (up to 2.2) or a BootstrapParams holding it (2.3+, <see cref="StartInput"/>), which choose the configuration as
    /// for Create (ConfigPath, ConfigBody, then the system and defaults files — <paramref name="fallbacks"/> overrides
    /// those two). <c>runtime.bootstrap_version</c> is
    /// checked before a daemon is spawned, so a bad value leaves nothing running. Its <c>runtime.run_dir</c> goes into the
    /// bundle's <see cref="ShimState"/>, where the daemon and <c>delete</c> find it.
    /// </summary>
    public static int Start(ShimArguments args, Stream stdin, TextWriter stdout, TextWriter stderr,
        Func<ShimArguments, Socket, int> spawnDaemon, string socketDirectory, string bundle, IReadOnlyList<string>? fallbacks)
    {
        try
        {
            // containerd writes the options Any on stdin and closes it; read it all so that write never blocks.
            byte[] options;
            using (stdin)
            using (var buffer = new MemoryStream())
            {
                stdin.CopyTo(buffer);
                options = buffer.ToArray();
            }
            var input = StartInput.Parse(options, args.Id, args.Namespace);
            var runtime = StartConfiguration(input.RuntimeOptions, fallbacks).Runtime;
            var bootstrapVersion = runtime.BootstrapVersion;
            BootstrapResponse.Validate(bootstrapVersion);
            // containerd 2.3+ may name the socket directory in its BootstrapParams; it then looks for the socket there.
            var result = new StartCommand(input.SocketDirectory ?? socketDirectory, spawnDaemon)
                .Run(DaemonArguments(args, runtime), bundle, runtime.RunDir);
            // Nothing else, no newline: containerd reads stdout and stderr combined (pitfall 1).
            stdout.Write(BootstrapResponse.Format(result.Address, bootstrapVersion));
            stdout.Flush();
            return ExitOk;
        }
        catch (Exception e)
        {
            stderr.Write($"containerd-shim-cc-v2 start: {e.Message}");
            return ExitFailure;
        }
    }

    /// <summary>
    /// The flags the daemon is spawned with: containerd's, plus <c>-debug</c> when the pod's configuration says
    /// <c>runtime.debug = true</c>. The daemon's level is decided here, from the configuration containerd named for this
    /// pod, because the daemon itself never sees the runtime options before its first Create; a second task that joins
    /// a running daemon does not change its level (one log level per pod, set by the pod's first task).
    /// </summary>
    internal static ShimArguments DaemonArguments(ShimArguments args, RuntimeSection runtime) =>
        runtime.Debug ? args with { Debug = true } : args;

    private static ShimConfiguration StartConfiguration(Google.Protobuf.WellKnownTypes.Any? options, IReadOnlyList<string>? fallbacks)
    {
        var read = RuntimeOptionsReader.Read(options);
        return ConfigurationLoader.Load(read.ConfigPath, read.ConfigBody, fallbacks).Configuration;
    }

    public static int Delete(ShimArguments args, Stream stdout, TextWriter stderr)
    {
        try
        {
            var bundle = args.Bundle.Length > 0 ? args.Bundle : Directory.GetCurrentDirectory();
            var configuration = RuntimeConfiguration();
            var bytes = DeleteCommand.Run(args, bundle, configuration, TimeProvider.System, stderr);
            stdout.Write(bytes);
            stdout.Flush();
            return ExitOk;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"containerd-shim-cc-v2 delete: {e.Message}");
            return ExitFailure;
        }
    }

    public static int Info(Stream stdin, Stream stdout, TextWriter stderr)
    {
        try
        {
            using var buffer = new MemoryStream();
            stdin.CopyTo(buffer);
            stdout.Write(InfoCommand.Run(buffer.ToArray()));
            stdout.Flush();
            return ExitOk;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"containerd-shim-cc-v2 -info: {e.Message}");
            return ExitFailure;
        }
    }

    /// <summary>
    /// The daemon, with its socket on fd 3. Returns the exit code. <paramref name="loggerFactory"/> comes configured
    /// from the executable (it owns Serilog).
    /// </summary>
    public static async Task<int> DaemonAsync(ShimArguments args, ILoggerFactory loggerFactory)
    {
        var bundle = Directory.GetCurrentDirectory();
        // start handed fd 3 over without FD_CLOEXEC (it had to survive the exec); from here on it is ours alone, and a
        // child that inherited it would keep the address accepting after this daemon died (shim delete would then
        // take a dead daemon for alive).
        LibC.SetCloseOnExec(DaemonSpawner.ListenerFd);
        var listener = new Socket(new SafeSocketHandle(DaemonSpawner.ListenerFd, ownsHandle: true));
        HostMountNamespace.Adopt();
        LogFifo.BecomeSubreaper();
        using var orphans = new OrphanReaper(loggerFactory.CreateLogger<OrphanReaper>());
        using var lifetime = new ShimLifetime();
        using var signals = ShimDaemon.HandleSignals(lifetime);
        var configuration = RuntimeConfiguration();
        var holder = new ConfigurationHolder();
        var engines = ProductionEngines.Create(args, bundle, holder, loggerFactory);
        return await ShimDaemon.RunAsync(args, bundle, listener, engines, configuration, holder,
            loggerFactory, lifetime).ConfigureAwait(false);
    }

    /// <summary>
    /// The configuration used before any runtime options are known (delete, the daemon's run directory): the system
    /// file, else the defaults file. <c>runtime.run_dir</c> is read only from here, because <c>delete</c> never receives
    /// runtime options and must find the same directory the daemon used.
    /// </summary>
    public static ShimConfiguration RuntimeConfiguration() => ConfigurationLoader.Load(null).Configuration;
}

/// <summary>The engines of a real daemon: QEMU through Cc.Hypervisor, the agent through Cc.Agent.Protocol.</summary>
public static class ProductionEngines
{
    /// <param name="bundle">The daemon's own bundle, whose <see cref="ShimState"/> gets the VMM's pid once QEMU runs.</param>
    public static DaemonEngines Create(ShimArguments args, string bundle, ConfigurationHolder configuration, ILoggerFactory loggerFactory)
    {
        var ttrpcAddress = Environment.GetEnvironmentVariable("TTRPC_ADDRESS");
        IEventSink events = string.IsNullOrEmpty(ttrpcAddress)
            ? new LogOnlyEventSink(loggerFactory.CreateLogger<LogOnlyEventSink>())
            : new TtrpcEventSink(ttrpcAddress, args.Namespace, loggerFactory);
        IEventSink? fallback = args.PublishBinary.Length > 0 && args.Address.Length > 0
            ? new PublishBinarySink(args.PublishBinary, args.Address, args.Namespace)
            : null;
        var metrics = new Monitoring.SandboxMetrics(args.Namespace, args.Id);
        var launcher = new QemuVmLauncher(new Cc.Hypervisor.Qemu.QemuHypervisor(loggerFactory), configuration, loggerFactory)
        {
            StateBundle = bundle,
            Metrics = metrics,
        };
        return new DaemonEngines(launcher, new HostRootfs(), events, fallback, metrics);
    }
}
