using System.Net.Sockets;
using System.Runtime.InteropServices;
using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Cli;
using Cc.Shim.Configuration;
using Cc.Shim.Events;
using Cc.Shim.Monitoring;
using Cc.Shim.Sandbox;
using Cc.Shim.Tasks;
using Cc.Ttrpc;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Lifetime;

/// <summary>
/// The engines the daemon runs on; production wires QEMU and the agent, tests wire fakes. <paramref name="Metrics"/> is
/// the instruments the launcher records into (agent calls, boot); null = the daemon makes its own.
/// </summary>
public sealed record DaemonEngines(IVmLauncher Launcher, IRootfsProvider Rootfs, IEventSink Events, IEventSink? FallbackEvents,
    SandboxMetrics? Metrics = null);

/// <summary>
/// The long-running daemon (protocol.md §2.5): serves the Task service on the socket <c>start</c> handed over, until a
/// Shutdown with no containers left or SIGTERM/SIGINT; then stops the VM, lets in-flight calls answer, flushes events,
/// removes the socket file and returns the exit code. The exit is registered, not hand-ordered: a
/// <see cref="CleanupStack"/> runs each resource's release in reverse order of acquisition, each step bounded by
/// runtime.shutdown_timeout_seconds.
/// </summary>
public static partial class ShimDaemon
{
    public static async Task<int> RunAsync(ShimArguments args, string bundle, Socket listener, DaemonEngines engines,
        ShimConfiguration runtimeConfiguration, ConfigurationHolder configuration, ILoggerFactory loggerFactory,
        ShimLifetime lifetime, CancellationToken cancellationToken = default)
    {
        var logger = loggerFactory.CreateLogger("Cc.Shim.Daemon");
        // Learn our socket's path now: by the time the daemon exits, containerd may already have removed the bundle
        // (and its address file) — a failed Create is torn down that way on containerd 1.7.
        var socketPath = SocketPathOf(listener) ?? AddressFilePath(bundle);
        var shutdownTimeout = TimeSpan.FromSeconds(Math.Max(1, runtimeConfiguration.Runtime.ShutdownTimeoutSeconds));
        using var external = cancellationToken.Register(() => lifetime.RequestStop("cancelled by the host"));

        // Each resource registers its release as it is acquired; the exit runs them newest first, each bounded:
        // the sandbox (VM, rootfs, stdio), its run directory, the server (in-flight calls answer: the Shutdown that got
        // us here still owes containerd its empty answer), the event queue's flush, and last the socket file, so the
        // address stops accepting only once nothing of the pod is left for `shim delete` to find.
        var cleanup = new CleanupStack("shim daemon", logger, shutdownTimeout);
        try
        {
            cleanup.Register("remove socket", () => RemoveSocket(socketPath));
            var events = new EventQueue(engines.Events, engines.FallbackEvents, TimeProvider.System,
                loggerFactory.CreateLogger<EventQueue>());
            cleanup.Register("flush events", async token =>
            {
                try
                {
                    await events.FlushAsync(token).ConfigureAwait(false);
                }
                finally
                {
                    await events.DisposeAsync().ConfigureAwait(false);
                }
            });
            var server = new TtrpcServer(new TtrpcServerOptions { RequireSameUser = true, LoggerFactory = loggerFactory });
            var serving = Task.CompletedTask;
            cleanup.Register("stop serving", async token =>
            {
                try
                {
                    await server.ShutdownAsync(token).ConfigureAwait(false);
                }
                finally
                {
                    await server.DisposeAsync().ConfigureAwait(false);
                    await serving.WaitAsync(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
                }
            });
            var runDirectory = SandboxRunDirectory(args, bundle, runtimeConfiguration);
            // The VM is stopped and every rootfs released before this runs (registered before the sandbox): nothing of
            // the pod is left to serve, so its run directory goes now (containerd after a restart, or a SIGTERM, may
            // never run the `shim delete` that would otherwise remove it).
            cleanup.Register("remove run directory", () =>
            {
                if (RunDirectoryCleanup.TryRemove(runDirectory) is { } kept)
                {
                    Log.RunDirectoryKept(logger, runDirectory, kept);
                }
            });
            var options = new SandboxOptions(args.Namespace, args.Id, runDirectory)
            {
                // The pod's configuration (its first Create's ConfigPath), read when the VM boots.
                VmHealth = () => configuration.Current.Configuration.Agent.Health(),
            };
            var sandbox = new PodSandbox(options, engines.Launcher, engines.Rootfs,
                events, TimeProvider.System, loggerFactory.CreateLogger<PodSandbox>());
            cleanup.Register("stop sandbox", token => sandbox.DisposeAsync().AsTask().WaitAsync(token));
            ServeMetrics(cleanup, engines.Metrics ?? new SandboxMetrics(args.Namespace, args.Id), sandbox, runDirectory,
                loggerFactory.CreateLogger("Cc.Shim.Monitoring"));
            var service = new TaskService(sandbox, configuration, lifetime, loggerFactory.CreateLogger<TaskService>());

            TaskServiceBinding.RegisterAll(server, service);
            Log.Serving(logger, args.Id, args.Namespace, Environment.ProcessId);
            serving = server.ServeAsync(listener, lifetime.Stopping);

            try
            {
                await Task.Delay(Timeout.Infinite, lifetime.Stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
            Log.Stopping(logger, lifetime.Reason ?? "unknown");
        }
        finally
        {
            await cleanup.RunAsync().ConfigureAwait(false);
        }
        Log.Exited(logger);
        return 0;
    }

    /// <summary>
    /// The management socket (<c>&lt;run dir&gt;/monitor.sock</c>, docs/metrics.md): <c>GET /metrics</c> for this
    /// sandbox. Registered after the sandbox, so it stops (and its socket goes) before the VM does and a scrape never
    /// meets a half-stopped pod. A socket that cannot be made (a path over the unix limit, a read-only run_dir) costs
    /// the metrics, not the pod: logged, and the pod runs on.
    /// </summary>
    private static void ServeMetrics(CleanupStack cleanup, SandboxMetrics metrics, PodSandbox sandbox, string runDirectory,
        ILogger logger)
    {
        var exporter = new MetricsExporter(metrics, sandbox);
        var path = Path.Combine(runDirectory, MetricsScraper.SocketName);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            Directory.CreateDirectory(runDirectory);
            File.Delete(path);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(8);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            listener.Dispose();
            Log.MetricsUnavailable(logger, path, e.Message);
            return;
        }
        var server = new MetricsHttpServer(listener, exporter.ExportAsync, logger);
        cleanup.Register("stop serving metrics", async _ =>
        {
            try
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                File.Delete(path);
            }
        });
        server.Start();
    }

    /// <summary>
    /// The sandbox's run directory: as <c>start</c> recorded it in the bundle's <see cref="ShimState"/> (from the
    /// configuration containerd named), else &lt;run_dir&gt;/&lt;ns&gt;/&lt;id&gt; of the system configuration.
    /// </summary>
    public static string SandboxRunDirectory(ShimArguments args, string bundle, ShimConfiguration configuration) =>
        ShimState.Read(bundle) is { RunDirectory.Length: > 0 } state
            ? state.RunDirectory
            : Path.Combine(configuration.Runtime.RunDir, args.Namespace, args.Id);

    /// <summary>Wires SIGTERM and SIGINT to the lifetime; dispose the result to unregister.</summary>
    public static IDisposable HandleSignals(ShimLifetime lifetime)
    {
        // SIGPIPE needs nothing: the .NET runtime ignores it, so a vanished FIFO reader is an IOException, not a kill.
        var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            lifetime.RequestStop("SIGTERM");
        });
        var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
        {
            context.Cancel = true;
            lifetime.RequestStop("SIGINT");
        });
        return new Registrations(term, interrupt);
    }

    private static string? SocketPathOf(Socket listener)
    {
        try
        {
            return listener.LocalEndPoint is UnixDomainSocketEndPoint endPoint ? endPoint.ToString() : null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    private static string? AddressFilePath(string bundle) =>
        BundleFiles.ReadAddress(bundle) is { } address && address.StartsWith("unix://", StringComparison.Ordinal)
            ? SocketAddress.PathOf(address)
            : null;

    private static void RemoveSocket(string? socketPath)
    {
        if (!string.IsNullOrEmpty(socketPath) && socketPath[0] == '/')
        {
            File.Delete(socketPath);
        }
    }

    private sealed class Registrations(params IDisposable[] items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var item in items)
            {
                item.Dispose();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Shim daemon for task {TaskId} in namespace {Namespace} serving, pid {Pid}")]
        public static partial void Serving(ILogger logger, string taskId, string @namespace, int pid);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Shim daemon stopping: {Reason}")]
        public static partial void Stopping(ILogger logger, string reason);

        [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Shim daemon exited")]
        public static partial void Exited(ILogger logger);

        [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "Run directory {RunDirectory} kept: {Reason}")]
        public static partial void RunDirectoryKept(ILogger logger, string runDirectory, string reason);

        [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "No metrics for this sandbox: cannot listen on {Path}: {Reason}")]
        public static partial void MetricsUnavailable(ILogger logger, string path, string reason);
    }
}
