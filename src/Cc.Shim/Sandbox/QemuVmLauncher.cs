using Cc.Agent.Protocol;
using Cc.Hypervisor;
using Cc.Shim.Configuration;
using Cc.Shim.Lifetime;
using Cc.Shim.Logging;
using Cc.Shim.Network;
using Cc.Ttrpc;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using V1 = Cc.Agent.Protocol.V1;

namespace Cc.Shim.Sandbox;

/// <summary>
/// Boots the pod's VM with Cc.Hypervisor from the configuration in force at the first Create, connects the agent
/// (bounded by hypervisor.boot_timeout_seconds) and announces the sandbox to it. Records the VMM pid in
/// <c>vmm.pid</c> so a <c>delete</c> after a daemon crash can find the VM. Each resource of the session (the taps
/// and their redirects, QEMU and its pid file, the agent connection, the clock sync) registers its release on the
/// session's <see cref="CleanupStack"/> as it is acquired (and the port forwarder, once the agent answers): a launch that fails half-way and the session's end run the
/// same stack, in reverse.
/// </summary>
public sealed partial class QemuVmLauncher(IHypervisor hypervisor, ConfigurationHolder configuration, ILoggerFactory loggerFactory)
    : IVmLauncher
{
    private readonly ILogger _logger = loggerFactory.CreateLogger<QemuVmLauncher>();

    /// <summary>The bundle whose <see cref="Cli.ShimState"/> records the VMM (the daemon's own); null records nothing there.</summary>
    public string? StateBundle { get; init; }

    /// <summary>Where the agent's calls and the boot time are recorded (docs/metrics.md); null records nothing.</summary>
    public Monitoring.SandboxMetrics? Metrics { get; init; }

    /// <summary>Options of every agent connection of the pod: calls are observed for the metrics.</summary>
    private TtrpcClientOptions AgentOptions() => new() { LoggerFactory = loggerFactory, CallObserver = Metrics is { } m ? m.ObserveAgentCall : null };

    public async Task<ISandboxVm> LaunchAsync(VmLaunchRequest request, CancellationToken cancellationToken)
    {
        var launchStarted = TimeProvider.System.GetTimestamp();
        var settings = configuration.Current.Configuration.Hypervisor;
        var agentSettings = configuration.Current.Configuration.Agent;
        var spec = request.Spec;
        var (memoryMiB, vcpus) = VmSizing.Compute(settings.MemoryMib, settings.Vcpus, spec.Resources);
        Log.Launching(_logger, request.SandboxId, spec.IsCriSandbox ? $"{spec.Pod?.Namespace}/{spec.Pod?.Name}" : "-",
            spec.Hostname, spec.NetworkNamespacePath ?? (spec.Network.HasNamespace ? "(fresh)" : "(none)"), memoryMiB, vcpus);
        var vmConfig = GuestVmConfig.Build(configuration.Current.Configuration, memoryMiB, vcpus, request.RunDirectory,
            request.SharedDirectory, forTemplate: false, shimDebug: _logger.IsEnabled(LogLevel.Debug));
        var consoleLog = vmConfig.ConsoleLogPath ?? Path.Combine(request.RunDirectory, "console.log");

        var network = await AttachNetworkAsync(request).ConfigureAwait(false);
        var session = new CleanupStack($"sandbox {request.SandboxId} VM session", _logger);
        // After QEMU is gone, so its taps are too; the veth's redirects go then.
        session.Register("detach network", _ => DetachNetworkAsync(network));
        // Stopped after QEMU (the stack runs in reverse), so the guest's last lines are logged before the shim says why
        // the VM ended.
        var console = GuestConsoleForwarder.Start(consoleLog, loggerFactory.CreateLogger(GuestLogCategory), TimeProvider.System);
        session.Register("stop forwarding the guest console", _ => console.DisposeAsync().AsTask());
        IVirtualMachine vm;
        AgentClient? clonedAgent;
        try
        {
            (vm, clonedAgent) = await StartVmAsync(vmConfig, network, request, memoryMiB, vcpus, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is VmConfigException or VmStartException && !cancellationToken.IsCancellationRequested)
        {
            await session.RunAsync().ConfigureAwait(false);
            throw Failed(request.SandboxId, e, settings.BootTimeoutSeconds, qemuExit: null, consoleLog);
        }
        catch
        {
            await session.RunAsync().ConfigureAwait(false);
            throw;
        }
        session.Register("stop QEMU", async _ =>
        {
            await vm.DisposeAsync().ConfigureAwait(false);
            ForgetVmmPid(request.RunDirectory);
        });
        // QEMU holds its own copies now: each tap lives as long as QEMU does, whoever ends it.
        network?.ReleaseTaps();
        try
        {
            await File.WriteAllTextAsync(Path.Combine(request.RunDirectory, Cli.DeleteCommand.VmmPidFile),
                vm.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
            if (StateBundle is { } bundle)
            {
                Cli.ShimState.RecordVmm(bundle, vm.Pid);
            }
            var agent = clonedAgent ?? await ConnectAgentAsync(vm, TimeSpan.FromSeconds(settings.BootTimeoutSeconds), cancellationToken)
                .ConfigureAwait(false);
            session.Register("close the agent connection", _ => agent.Connection.DisposeAsync().AsTask());
            var sandbox = new V1.CreateSandboxRequest
            {
                SandboxId = request.SandboxId,
                Hostname = spec.Hostname,
                HostTime = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
                Network = ToRequest(network, spec),
                Entropy = Google.Protobuf.ByteString.CopyFrom(HostEntropy.Read(GuestEntropyBytes)),
            };
            foreach (var (name, value) in spec.Sysctls)
            {
                sandbox.Sysctls[name] = value;
            }
            // Every guest call of the VM's own goes through the same path as a container's (deadline on the wire, error
            // mapping): CreateSandbox here, SetTime in the clock sync, OnlineCpus in a resize, DestroySandbox at the stop.
            var guest = new AgentGuest(agent, agentSettings.Deadlines());
            await guest.CreateSandboxAsync(sandbox, cancellationToken).ConfigureAwait(false);
            Metrics?.RecordBoot(TimeProvider.System.GetElapsedTime(launchStarted), clonedAgent is null ? "cold" : "template");
            var clock = new GuestClockSync(guest.SetTimeAsync, TimeProvider.System, _logger, request.SandboxId);
            session.Register("stop the clock sync", _ => clock.DisposeAsync().AsTask());
            var resize = vm.Hotplug is { } hotplug
                ? new QemuVmResize(hotplug, guest.OnlineCpusAsync, _logger, request.SandboxId)
                : null;
            if (network?.Forwarding is { } listener)
            {
                // Stopped before the agent connection closes (the stack runs in reverse); the listener stays the
                // network's, closed when it is detached. Its connections outlive this Create: the Task API caller's
                // deadline must not flow into their agent calls (this async method's flow ends here anyway).
                CallerDeadline.Detach();
                var forwarder = PortForwarder.Start(listener, (port, token) => AgentPortConnection.OpenAsync(guest, port, token),
                    _logger, request.SandboxId);
                session.Register("stop port forwarding", _ => forwarder.DisposeAsync().AsTask());
            }
            return new QemuSandboxVm(vm, guest, TimeSpan.FromSeconds(settings.StopGraceSeconds), session, clock) { Resize = resize };
        }
        // The boot's failures, not the guest's answers: a CreateSandbox the agent refuses keeps its own status code.
        catch (Exception e) when ((e is TimeoutException or SandboxUnavailableException || (e is TtrpcException && vm.Exited.IsCompleted))
                                  && !cancellationToken.IsCancellationRequested)
        {
            int? qemuExit = vm.Exited.IsCompleted ? vm.Exited.Result.ExitCode : null;
            await session.RunAsync().ConfigureAwait(false);
            throw Failed(request.SandboxId, e, settings.BootTimeoutSeconds, qemuExit, consoleLog);
        }
        catch
        {
            await session.RunAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The category of the guest's lines (console and agent) in the shim's log.</summary>
    public const string GuestLogCategory = "Cc.Shim.Guest";

    /// <summary>
    /// Connects the booting guest's agent, bounded by the boot timeout, and gives up as soon as QEMU exits: a guest
    /// whose VMM is gone will not answer, and waiting out the whole bound would only hide why. The next probe goes out
    /// the moment the guest opens its agent port, when the VM can tell (<see cref="IVirtualMachine.AgentPortOpens"/>).
    /// </summary>
    private async Task<AgentClient> ConnectAgentAsync(IVirtualMachine vm, TimeSpan deadline, CancellationToken cancellationToken,
        TimeSpan? firstProbe = null)
    {
        using var vmGone = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var connect = AgentConnector.ConnectAsync(vm.Agent.ToString(), deadline, AgentOptions(), firstProbe,
            vm.AgentPortOpens is { } opens ? opens.NextOpenAsync : null, vmGone.Token);
        if (await Task.WhenAny(connect, vm.Exited).ConfigureAwait(false) == connect)
        {
            return await connect.ConfigureAwait(false);
        }
        await vmGone.CancelAsync().ConfigureAwait(false);
        try
        {
            var late = await connect.ConfigureAwait(false);
            await late.Connection.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException or TtrpcException)
        {
            // Expected: the connect was cancelled because QEMU is gone.
        }
        var exit = await vm.Exited.ConfigureAwait(false);
        throw new SandboxUnavailableException($"QEMU exited with code {exit.ExitCode} while the guest booted ({exit.Reason})");
    }

    /// <summary>The launch failed: log the one line naming cause and fix, and return the error carrying the same text.</summary>
    private SandboxUnavailableException Failed(string sandboxId, Exception failure, int bootTimeoutSeconds, int? qemuExit, string consoleLog)
    {
        var line = StartFailure.Classify(failure, bootTimeoutSeconds, qemuExit, ConsoleTail(consoleLog)).Line(sandboxId);
        Log.StartFailed(_logger, line);
        return new SandboxUnavailableException(line, failure);
    }

    /// <summary>The guest's last console lines (the shim's own "qemu: " lines left out), for the failure line.</summary>
    private static IReadOnlyList<string> ConsoleTail(string path)
    {
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            file.Seek(Math.Max(0, file.Length - 8192), SeekOrigin.Begin);
            return new StreamReader(file).ReadToEnd().Split('\n').Select(l => l.TrimEnd('\r'))
                .Where(l => l.Trim().Length > 0 && !l.StartsWith("qemu: ", StringComparison.Ordinal)).TakeLast(20).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>The pid names nobody now (and may soon name someone else): a later `shim delete` must not find it.</summary>
    private static void ForgetVmmPid(string runDirectory)
    {
        try
        {
            File.Delete(Path.Combine(runDirectory, Cli.DeleteCommand.VmmPidFile));
        }
        catch (DirectoryNotFoundException)
        {
            // The run directory is already gone, and the pid file with it.
        }
    }

    private sealed class QemuSandboxVm(IVirtualMachine vm, AgentGuest guest, TimeSpan stopGrace,
        CleanupStack session, GuestClockSync clock) : ISandboxVm
    {
        public int Pid => vm.Pid;
        public Task Exited => vm.Exited;
        public AgentGuest Agent { get; } = guest;
        public IVmResize? Resize { get; init; }

        /// <summary>
        /// Ends the VMM (QMP quit, SIGKILL after the stop grace) without asking the guest first: it has nothing to save.
        /// Its rootfs and volumes are host directories over 9p with cache=mmap, so every write (shared mappings too, at
        /// their unmap) is on the host when it returns in the guest, and nothing else in the guest outlives the VM.
        /// DestroySandbox (the agent's crun delete of every container) would only cost a guest round trip and ~0.3 s
        /// of TCG CPU per container before the same end.
        /// </summary>
        public async Task StopAsync(CancellationToken cancellationToken)
        {
            await clock.DisposeAsync().ConfigureAwait(false);
            await vm.StopAsync(stopGrace, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>Clock sync, agent connection, QEMU and its pid file, then the network: the session's stack.</summary>
        public ValueTask DisposeAsync() => new(session.RunAsync());
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 125, Level = LogLevel.Error, Message = "{Line}")]
        public static partial void StartFailed(ILogger logger, string line);

        [LoggerMessage(EventId = 120, Level = LogLevel.Information,
            Message = "Sandbox {SandboxId}: launching the VM for pod {Pod}, hostname {Hostname}, network namespace {NetworkNamespace}, {MemoryMiB} MiB, {Vcpus} vCPUs")]
        public static partial void Launching(ILogger logger, string sandboxId, string pod, string hostname,
            string networkNamespace, int memoryMiB, int vcpus);
    }
}
