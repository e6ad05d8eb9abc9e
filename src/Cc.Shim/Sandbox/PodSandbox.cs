using Cc.Shim.Events;
using Cc.Shim.Lifetime;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Sandbox;

/// <summary>Identity and places of one pod sandbox (one shim daemon, one VM).</summary>
public sealed record SandboxOptions(string Namespace, string SandboxId, string RunDirectory)
{
    /// <summary>Host directory shared with the guest as /run/cc/shared.</summary>
    public string SharedDirectory => Path.Combine(RunDirectory, "shared");

    /// <summary>How long an init's exit waits for its execs' exits to be published first.</summary>
    public TimeSpan ExecExitGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an exit waits for the process's output to reach the host sinks.</summary>
    public TimeSpan OutputDrainTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Bounds of a <c>binary://</c> stdio logger's start and stop.</summary>
    public Io.BinaryLoggerTimeouts LoggerTimeouts { get; init; } = Io.BinaryLoggerTimeouts.Default;

    /// <summary>
    /// How a dead VM is told from a live one (agent health checks); asked at each boot, because the pod's configuration
    /// is fixed by its first Create, after the daemon started.
    /// </summary>
    public Func<SandboxVmHealth> VmHealth { get; init; } = static () => SandboxVmHealth.Default;
}

/// <summary>
/// The pod: its VM (a <see cref="SandboxVm"/>, booted by the first Create, stopped when the last container is deleted
/// or ended by its own death) and its containers.
/// All process state lives behind <see cref="_lock"/>; guest calls are made outside it, with a state check before and
/// a checked transition after, so a transition the table forbids is always the one "invalid state transition" error.
/// Events are published under the lock at the moment of the transition: queue order is state order.
/// Every host resource the pod acquires (the VM, each container's rootfs and shares, each process's stdio) registers
/// its release on <see cref="_cleanup"/> where it is acquired; Delete and a dead VM release theirs early, and
/// <see cref="DisposeAsync"/> runs whatever is left, newest first.
/// </summary>
public sealed partial class PodSandbox : IAsyncDisposable
{
    private readonly SandboxOptions _options;
    private readonly IVmLauncher _launcher;
    private readonly IRootfsProvider _rootfs;
    private readonly IEventPublisher _events;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ShimContainer> _containers = new(StringComparer.Ordinal);
    // Containers whose Create is in flight, with the limits they count with in the pod's resizes once their Create has
    // grown the VM for them (None until then): a resize planned meanwhile must not take what they were grown by.
    private readonly Dictionary<string, PodResources> _creating = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _vmGate = new(1, 1);
    private readonly CancellationTokenSource _disposed = new();
    private readonly CleanupStack _cleanup;
    // The current boot of the VM and its registered stop; replaced only under _vmGate, and only once the old one is Stopped.
    private SandboxVm? _vm;
    private CleanupRegistration? _vmRelease;

    public PodSandbox(SandboxOptions options, IVmLauncher launcher, IRootfsProvider rootfs, IEventPublisher events,
        TimeProvider time, ILogger<PodSandbox> logger)
    {
        _options = options;
        _launcher = launcher;
        _rootfs = rootfs;
        _events = events;
        _time = time;
        _logger = logger;
        _cleanup = new CleanupStack($"sandbox {options.SandboxId}", logger);
    }

    public SandboxOptions Options => _options;

    /// <summary>The VMM's pid, or 0 while no VM runs.</summary>
    public int VmPid => Volatile.Read(ref _vm)?.Pid ?? 0;

    /// <summary>The state of the current VM (Empty before the first boot).</summary>
    public SandboxVmState VmState => Volatile.Read(ref _vm)?.State ?? SandboxVmState.Empty;

    /// <summary>True while any container is registered (or being created): Shutdown must then keep the daemon.</summary>
    public bool HasContainers
    {
        get
        {
            lock (_lock)
            {
                return _containers.Count > 0 || _creating.Count > 0;
            }
        }
    }

    /// <summary>
    /// Create: boots the VM if this is the pod's first container, grows it for the container's limits (docs/hotplug.md),
    /// prepares the rootfs, creates the init process in the guest (not started), opens stdio, records the container and
    /// publishes TaskCreated. Returns the pid. A failure leaves nothing of the container: a grow that fails fails the
    /// Create before anything is made for it, and a VM grown for a Create that fails later is shrunk back (best-effort).
    /// </summary>
    public async Task<uint> CreateAsync(CreateContainerRequest request, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_containers.ContainsKey(request.Id) || !_creating.TryAdd(request.Id, PodResources.None))
            {
                throw new AlreadyExistsException($"container {request.Id}: already exists");
            }
        }
        CleanupRegistration? rootfsRelease = null;
        CleanupRegistration? netnsRelease = null;
        ISandboxVm? vm = null;
        var grown = false;
        try
        {
            var spec = await ReadSpecAsync(request.Bundle, cancellationToken).ConfigureAwait(false);
            var (sandboxSpec, membership) = ParseSpec(request.Bundle, spec, request.Id);
            var hooks = ParseHooks(request.Bundle, spec);
            var limits = SandboxSpecParser.ContainerLimits(spec.Span);
            foreach (var label in SpecSecurityLabels.Find(spec.Span))
            {
                Log.SecurityLabelIgnored(_logger, request.Id, label.Field, label.Value);
            }
            Io.ProcessIo.CheckClientFifosExist(request.Stdio);
            (spec, sandboxSpec, netnsRelease) = await RunCreateHooksAsync(request, spec, sandboxSpec, hooks, cancellationToken)
                .ConfigureAwait(false);
            vm = await EnsureVmAsync(sandboxSpec, cancellationToken).ConfigureAwait(false);
            grown = await GrowForCreateAsync(request.Id, limits, cancellationToken).ConfigureAwait(false);
            // Registered before: a failure half-way leaves mounts that the release below removes.
            rootfsRelease = RegisterRootfs(request.Id);
            var shared = await _rootfs.PrepareAsync(request.Id, request.Bundle, request.Rootfs, spec,
                _options.SharedDirectory, cancellationToken).ConfigureAwait(false);
            await vm.Agent.CreateContainerAsync(request.Id, shared.Spec, shared.GuestRootfs, request.Stdio, membership,
                cancellationToken).ConfigureAwait(false);

            var key = new ProcessKey(request.Id, "");
            var init = new ShimProcess(key, request.Bundle, request.Stdio, (uint)vm.Pid);
            await OpenStdioAsync(init, vm, cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                _creating.Remove(request.Id);
                _containers.Add(request.Id, new ShimContainer(request.Id, request.Bundle, init)
                {
                    RootfsRelease = rootfsRelease,
                    Limits = limits,
                    Hooks = new ContainerHooks(hooks, OciState.Annotations(spec.Span)),
                });
                _events.Publish(new TaskCreated(_time.GetUtcNow(), request.Id, request.Bundle, request.Rootfs, request.Stdio,
                    init.Pid));
            }
            Log.ContainerCreated(_logger, request.Id, vm.Pid);
            return init.Pid;
        }
        catch
        {
            lock (_lock)
            {
                _creating.Remove(request.Id);
            }
            if (vm is not null)
            {
                await BestEffortAsync(() => vm.Agent.RemoveContainerAsync(request.Id, CancellationToken.None), "remove").ConfigureAwait(false);
            }
            if (rootfsRelease is not null)
            {
                await rootfsRelease.DisposeAsync().ConfigureAwait(false);
            }
            // A VM that booted on it keeps it until the VM stops (the stack's order); one that did not, nothing does.
            if (netnsRelease is not null && vm is null)
            {
                await netnsRelease.DisposeAsync().ConfigureAwait(false);
            }
            if (grown)
            {
                ShrinkForRemaining(request.Id, ShrinkCause.CreateFailed);
            }
            throw;
        }
    }

    /// <summary>
    /// Forgets every container and runs the clean-up stack: each process's stdio, each container's rootfs, then the
    /// VM (newest first, each step bounded); used when the daemon exits. Idempotent. A VM or rootfs acquired by a
    /// Create still in flight registers after this began and is released at once (<see cref="CleanupStack"/>).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync().ConfigureAwait(false);
        lock (_lock)
        {
            _containers.Clear();
        }
        await _cleanup.RunAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The Ready VM, or a new one made from <paramref name="spec"/> (the spec of the Create that boots it: the pod's
    /// first container). A spec that cannot be a VM is refused before anything is made. After a VM's death no new one
    /// is booted while containers of the dead one are still registered: the pod is gone (its sandbox container's
    /// namespaces died with it), so Create is refused with FailedPrecondition until they are deleted.
    /// </summary>
    private async Task<ISandboxVm> EnsureVmAsync(SandboxSpec spec, CancellationToken cancellationToken)
    {
        await _vmGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_vm is { } current)
            {
                if (current.TryGetReady(out var ready))
                {
                    return ready;
                }
                // Failed: the failure handler is stopping it; its stop is bounded by the VM's own stop and dispose.
                await current.StopAsync(cancellationToken).ConfigureAwait(false);
                if (Interlocked.Exchange(ref _vmRelease, null) is { } stopped)
                {
                    await stopped.DisposeAsync().ConfigureAwait(false); // off the stack; awaits the same, finished stop
                }
                lock (_lock)
                {
                    if (_containers.Count > 0)
                    {
                        throw new PreconditionFailedException(
                            $"{current.Describe()}; delete the pod's remaining tasks before creating new ones");
                    }
                }
                Volatile.Write(ref _vm, null);
            }
            SandboxSpecParser.CheckLaunchable(spec);
            Directory.CreateDirectory(_options.SharedDirectory);
            RunDirectorySpace.Require(_options.RunDirectory);
            var vm = new SandboxVm(_options.SandboxId, _options.VmHealth(), _time, _logger);
            Volatile.Write(ref _vm, vm);
            await vm.BootAsync(_launcher,
                new VmLaunchRequest(_options.Namespace, _options.SandboxId, _options.RunDirectory, _options.SharedDirectory, spec),
                PublishOom, cancellationToken).ConfigureAwait(false);
            // The VM's one release: every stop of a booted VM (the last Delete, the dead-VM handler, the next Create
            // after a failure, the daemon's exit) runs it, bounded and logged, once. Registered once Ready, not before
            // the boot: a stop cannot move a Booting VM, and a registration that comes after the pod's stack ran (a
            // Create racing the daemon's exit) runs at once, stopping the VM it just booted.
            var release = RegisterVm(vm);
            Volatile.Write(ref _vmRelease, release);
            Log.VmStarted(_logger, _options.SandboxId, vm.Pid);
            CallerDeadline.Detach(); // the dead-VM handler outlives this Create
            _ = EndTasksOfDeadVmAsync(vm, release);
            return vm.Require();
        }
        finally
        {
            _vmGate.Release();
        }
    }

    /// <summary>Stops the VM once no container is left; the daemon itself stays until Shutdown.</summary>
    private async Task StopVmAsync(CancellationToken cancellationToken)
    {
        await _vmGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var vm = Interlocked.Exchange(ref _vm, null);
            if (vm is null)
            {
                return;
            }
            if (Interlocked.Exchange(ref _vmRelease, null) is { } release)
            {
                await release.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                // A VM whose boot failed: never registered, already Stopped (its stop is a no-op).
                await BestEffortAsync(() => vm.StopAsync(cancellationToken), "stop VM").ConfigureAwait(false);
            }
            Log.VmStopped(_logger, _options.SandboxId);
        }
        finally
        {
            _vmGate.Release();
        }
    }

    /// <summary>The Ready VM for a guest call; a VM that is not Ready (never booted, dead, stopping) is FailedPrecondition.</summary>
    private ISandboxVm RequireVm() =>
        Volatile.Read(ref _vm) is { } vm
            ? vm.Require()
            : throw new PreconditionFailedException($"sandbox {_options.SandboxId}: the VM is not running");

    /// <summary>The bundle's config.json; a missing or unreadable one is InvalidArgument naming the file and why.</summary>
    private static async Task<ReadOnlyMemory<byte>> ReadSpecAsync(string bundle, CancellationToken cancellationToken)
    {
        var path = Path.Combine(bundle, "config.json");
        try
        {
            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidRequestException($"bundle {bundle} has no config.json", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidRequestException($"{path} cannot be read: {e.Message}", e);
        }
    }

    /// <summary>
    /// Parses the spec before anything is made for the container (no VM, no mount), so a broken config.json costs
    /// nothing; the error names the file, since containerd's message shows only ours.
    /// </summary>
    private static (SandboxSpec Sandbox, PodMembership Membership) ParseSpec(string bundle, ReadOnlyMemory<byte> spec, string id)
    {
        try
        {
            return SandboxSpecParser.Parse(spec.Span, id);
        }
        catch (InvalidRequestException e)
        {
            throw new InvalidRequestException($"{Path.Combine(bundle, "config.json")}: {e.Message}", e);
        }
    }

    /// <summary>The spec's hooks; a malformed entry is InvalidArgument naming the file, as for the rest of the spec.</summary>
    private static OciHooks ParseHooks(string bundle, ReadOnlyMemory<byte> spec)
    {
        try
        {
            return OciHooks.Parse(spec.Span);
        }
        catch (InvalidRequestException e)
        {
            throw new InvalidRequestException($"{Path.Combine(bundle, "config.json")}: {e.Message}", e);
        }
    }

    /// <summary>
    /// A one-off guest call on a request path whose failure must not fail the request (remove a container the guest
    /// may have lost with its VM, kill an exec on the way out). Not a resource's release: those are registered on
    /// <see cref="_cleanup"/> where the resource is acquired (the VM's stop included).
    /// </summary>
    private async Task BestEffortAsync(Func<Task> action, string what)
    {
        try
        {
            await action().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.CleanupFailed(_logger, e, what, _options.SandboxId);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Container {ContainerId} created in VM pid {VmPid}")]
        public static partial void ContainerCreated(ILogger logger, string containerId, int vmPid);

        [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Sandbox {SandboxId}: VM started, pid {VmPid}")]
        public static partial void VmStarted(ILogger logger, string sandboxId, int vmPid);

        [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Sandbox {SandboxId}: VM stopped")]
        public static partial void VmStopped(ILogger logger, string sandboxId);

        [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Clean-up step '{Step}' of sandbox {SandboxId} failed")]
        public static partial void CleanupFailed(ILogger logger, Exception e, string step, string sandboxId);

        [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "Process {Process} started, exit watch armed")]
        public static partial void ProcessStarted(ILogger logger, string process);

        [LoggerMessage(EventId = 105, Level = LogLevel.Information, Message = "Process {Process} exited with status {ExitStatus}")]
        public static partial void ProcessExited(ILogger logger, string process, uint exitStatus);

        [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "Waiting for process {Process} failed; recording exit 255")]
        public static partial void WaitFailed(ILogger logger, Exception e, string process);

        [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "Output of {Process} did not drain in time; reporting its exit anyway")]
        public static partial void OutputNotDrained(ILogger logger, string process);

        [LoggerMessage(EventId = 108, Level = LogLevel.Information, Message = "Container {ContainerId} deleted")]
        public static partial void ContainerDeleted(ILogger logger, string containerId);

        [LoggerMessage(EventId = 850, Level = LogLevel.Information,
            Message = "Sandbox {SandboxId}: the VMM has ended; the rest of the VM's stop finishes after the Delete's answer")]
        public static partial void VmmEnded(ILogger logger, string sandboxId);

        [LoggerMessage(EventId = 113, Level = LogLevel.Warning,
            Message = "Container {ContainerId}: {Field} '{Value}' ignored: AppArmor and SELinux labels name host policy, which the guest does not load; the VM isolates the pod")]
        public static partial void SecurityLabelIgnored(ILogger logger, string containerId, string field, string value);
    }
}
