using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.Cgroups.V2;
using Cc.Containerd.Protocol.Tasks;
using Cc.Containerd.Protocol.Types;
using Cc.Shim.Configuration;
using Cc.Shim.Lifetime;
using Cc.Shim.Logging;
using Cc.Shim.Sandbox;
using Cc.Ttrpc;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;
using DomainState = Cc.Shim.Sandbox.ProcessState;

namespace Cc.Shim.Tasks;

/// <summary>
/// The Task service adapter: translate the request, call the sandbox, translate back. Semantics live in the domain
/// (Sandbox/); status codes live in <see cref="ErrorMapping"/>. Registered under containerd.task.v2.Task and v3.
/// </summary>
public sealed partial class TaskService : ITaskService
{
    /// <summary>
    /// Pids asks the guest for its process list for at most this long before answering with the VMM pid. The fallback
    /// is for a guest that does not answer, not for a slow one: a TCG guest on a loaded host took over 1 s for the list.
    /// </summary>
    private static readonly TimeSpan PidsGuestTimeout = TimeSpan.FromSeconds(5);

    private readonly PodSandbox _sandbox;
    private readonly ConfigurationHolder _configuration;
    private readonly ShimLifetime _lifetime;
    private readonly ILogger _logger;

    public TaskService(PodSandbox sandbox, ConfigurationHolder configuration, ShimLifetime lifetime, ILogger<TaskService> logger)
    {
        _sandbox = sandbox;
        _configuration = configuration;
        _lifetime = lifetime;
        _logger = logger;
    }

    public ValueTask<CreateTaskResponse> CreateAsync(CreateTaskRequest request, ServerCallContext context) => Guard(context, request.Id, "", async () =>
    {
        if (request.Checkpoint.Length > 0)
        {
            throw new UnsupportedException("restoring from a checkpoint is not supported: a VM sandbox has no CRIU image to restore");
        }
        if (_configuration.Apply(request.Options) is { } ignored)
        {
            Log.OptionsIgnored(_logger, ignored, request.Id);
        }
        var pid = await _sandbox.CreateAsync(new CreateContainerRequest(
            request.Id,
            request.Bundle,
            request.Rootfs.Select(m => new RootfsMount(m.Type, m.Source, m.Options.ToList())).ToList(),
            new StdioSpec(request.Stdin, request.Stdout, request.Stderr, request.Terminal)), context.CancellationToken).ConfigureAwait(false);
        return new CreateTaskResponse { Pid = pid };
    });

    public ValueTask<StartResponse> StartAsync(StartRequest request, ServerCallContext context) => Guard(context, request.Id, request.ExecId, async () =>
        new StartResponse { Pid = await _sandbox.StartAsync(Key(request.Id, request.ExecId), context.CancellationToken).ConfigureAwait(false) });

    public ValueTask<DeleteResponse> DeleteAsync(DeleteRequest request, ServerCallContext context) => Guard(context, request.Id, request.ExecId, async () =>
    {
        var (pid, exit) = await _sandbox.DeleteAsync(Key(request.Id, request.ExecId), context.CancellationToken).ConfigureAwait(false);
        return new DeleteResponse { Pid = pid, ExitStatus = exit.Code, ExitedAt = Timestamp.FromDateTimeOffset(exit.ExitedAt) };
    });

    public ValueTask<PidsResponse> PidsAsync(PidsRequest request, ServerCallContext context) => Guard(context, request.Id, "", async () =>
    {
        // [runtime] pids of the pod's configuration (its first Create's), checked when that was loaded.
        var source = PidsSources.Parse(_configuration.Current.Configuration.Runtime.Pids);
        var processes = await _sandbox.PidsAsync(request.Id, source, PidsGuestTimeout, context.CancellationToken).ConfigureAwait(false);
        // As runc's shim: an exec carries its id in a ProcessDetails, which ctr prints in `task ps`'s INFO column.
        return new PidsResponse
        {
            Processes =
            {
                processes.Select(p => new ProcessInfo
                {
                    Pid = p.Pid,
                    Info = p.ExecId.Length == 0 ? null : TypeUrls.Pack(new Cc.Containerd.Protocol.Runc.ProcessDetails { ExecId = p.ExecId }),
                }),
            },
        };
    });

    public ValueTask<Empty> PauseAsync(PauseRequest request, ServerCallContext context) => Guard(context, request.Id, "", async () =>
    {
        await _sandbox.SetPausedAsync(request.Id, paused: true, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    });

    public ValueTask<Empty> ResumeAsync(ResumeRequest request, ServerCallContext context) => Guard(context, request.Id, "", async () =>
    {
        await _sandbox.SetPausedAsync(request.Id, paused: false, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    });

    public ValueTask<Empty> CheckpointAsync(CheckpointTaskRequest request, ServerCallContext context) =>
        ErrorMapping.GuardSync<Empty>(() => throw new UnsupportedException(
            "checkpoint is not supported: the container runs inside a VM, where the host's CRIU cannot reach it"));

    public ValueTask<Empty> KillAsync(KillRequest request, ServerCallContext context) => Guard(context, request.Id, request.ExecId, async () =>
    {
        await _sandbox.KillAsync(Key(request.Id, request.ExecId), checked((int)request.Signal), request.All, context.CancellationToken)
            .ConfigureAwait(false);
        return new Empty();
    });

    public ValueTask<Empty> ExecAsync(ExecProcessRequest request, ServerCallContext context) => Guard(context, request.Id, request.ExecId, async () =>
    {
        if (request.Spec is null || TypeUrls.NameOf(request.Spec.TypeUrl) != TypeUrls.OciProcess)
        {
            throw new InvalidRequestException(
                $"exec spec must be {TypeUrls.OciProcess} JSON, got \"{request.Spec?.TypeUrl}\"");
        }
        await _sandbox.ExecAsync(new ExecRequest(request.Id, request.ExecId,
            new StdioSpec(request.Stdin, request.Stdout, request.Stderr, request.Terminal),
            request.Spec.Value.Memory), context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    });

    public ValueTask<Empty> ResizePtyAsync(ResizePtyRequest request, ServerCallContext context) => Guard(context, request.Id, request.ExecId, async () =>
    {
        await _sandbox.ResizePtyAsync(Key(request.Id, request.ExecId), request.Width, request.Height, context.CancellationToken)
            .ConfigureAwait(false);
        return new Empty();
    });

    public ValueTask<Empty> CloseIOAsync(CloseIORequest request, ServerCallContext context) => Guard(context, request.Id, request.ExecId, async () =>
    {
        if (request.Stdin)
        {
            await _sandbox.CloseStdinAsync(Key(request.Id, request.ExecId), context.CancellationToken).ConfigureAwait(false);
        }
        return new Empty();
    });

    /// <summary>
    /// Update: the OCI LinuxResources JSON goes to the container's cgroup in the guest as it came. Annotations are not
    /// used; the VM's own size is fixed at boot (docs/shim.md).
    /// </summary>
    public ValueTask<Empty> UpdateAsync(UpdateTaskRequest request, ServerCallContext context) => Guard(context, request.Id, "", async () =>
    {
        if (request.Resources is not { } resources || resources.Value.IsEmpty)
        {
            throw new InvalidRequestException($"update of task {request.Id}: no resources given");
        }
        if (TypeUrls.NameOf(resources.TypeUrl) != TypeUrls.OciLinuxResources)
        {
            throw new InvalidRequestException(
                $"update of task {request.Id}: resources of type \"{resources.TypeUrl}\" are not OCI LinuxResources ({TypeUrls.OciLinuxResources})");
        }
        await _sandbox.UpdateResourcesAsync(request.Id, resources.Value.Memory, context.CancellationToken).ConfigureAwait(false);
        return new Empty();
    });

    public ValueTask<WaitResponse> WaitAsync(WaitRequest request, ServerCallContext context) => Guard(context, request.Id, request.ExecId, async () =>
    {
        var exit = await _sandbox.WaitAsync(Key(request.Id, request.ExecId), context.CancellationToken).ConfigureAwait(false);
        return new WaitResponse { ExitStatus = exit.Code, ExitedAt = Timestamp.FromDateTimeOffset(exit.ExitedAt) };
    });

    public ValueTask<StatsResponse> StatsAsync(StatsRequest request, ServerCallContext context) => Guard(context, request.Id, "", async () =>
    {
        var stats = await _sandbox.StatsAsync(request.Id, context.CancellationToken).ConfigureAwait(false);
        return new StatsResponse { Stats = TypeUrls.Pack(ToMetrics(stats)) };
    });

    public ValueTask<ConnectResponse> ConnectAsync(ConnectRequest request, ServerCallContext context) => ErrorMapping.GuardSync(() =>
        new ConnectResponse
        {
            ShimPid = (uint)Environment.ProcessId,
            TaskPid = _sandbox.TaskPid(request.Id),
            Version = Cli.ShimVersion.Version,
        });

    public ValueTask<Empty> ShutdownAsync(ShutdownRequest request, ServerCallContext context) => ErrorMapping.GuardSync(() =>
    {
        // Per task, and usually to be ignored (pitfall 5): the daemon leaves only when it serves no container at all.
        if (!_sandbox.HasContainers)
        {
            _lifetime.RequestStop($"Shutdown by containerd for task {request.Id}, no containers left");
        }
        return new Empty();
    });

    public ValueTask<StateResponse> StateAsync(StateRequest request, ServerCallContext context) => ErrorMapping.GuardSync(() =>
    {
        var snapshot = _sandbox.State(Key(request.Id, request.ExecId));
        return new StateResponse
        {
            Id = snapshot.Key.DisplayId,
            Bundle = snapshot.Bundle,
            Pid = snapshot.Pid,
            Status = ToStatus(snapshot.State),
            Stdin = snapshot.Stdio.Stdin,
            Stdout = snapshot.Stdio.Stdout,
            Stderr = snapshot.Stdio.Stderr,
            Terminal = snapshot.Stdio.Terminal,
            ExitStatus = snapshot.Exit?.Code ?? 0,
            ExitedAt = GoTime.From(snapshot.Exit?.ExitedAt),
        };
    });

    /// <summary>
    /// <see cref="ErrorMapping.Guard{T}"/> with the request's task (and exec) as the logging scope: every line logged
    /// while serving it, by whatever class, carries <c>container=</c> (and <c>exec=</c>) in containerd's log.
    /// </summary>
    private ValueTask<T> Guard<T>(ServerCallContext context, string id, string execId, Func<Task<T>> body) =>
        ErrorMapping.Guard(context, async () =>
        {
            using var scope = LogFields.BeginTask(id, execId);
            return await body().ConfigureAwait(false);
        });

    private static ProcessKey Key(string id, string execId) => new(id, execId);

    private static Status ToStatus(DomainState state) => state switch
    {
        DomainState.Created => Status.Created,
        DomainState.Running => Status.Running,
        DomainState.Paused => Status.Paused,
        DomainState.Stopped => Status.Stopped,
        _ => Status.Unknown,
    };

    /// <summary>
    /// cgroup v2 metrics as containerd's own cgroups v2 reader fills them, from the guest's files (CRI reads
    /// cpu.usage_usec, memory.usage − inactive_file, the limit, and pids). A field the guest kernel does not write is 0.
    /// </summary>
    internal static Metrics ToMetrics(ContainerStats stats)
    {
        ulong Cpu(string key) => stats.CpuStat.GetValueOrDefault(key);
        ulong Mem(string key) => stats.MemoryStat.GetValueOrDefault(key);
        ulong Event(string key) => stats.MemoryEvents.GetValueOrDefault(key);
        return new Metrics
        {
            Pids = new PidsStat { Current = stats.PidsCurrent, Limit = stats.PidsLimit },
            Cpu = new CPUStat
            {
                UsageUsec = stats.CpuUsageUsec,
                UserUsec = stats.CpuUserUsec,
                SystemUsec = stats.CpuSystemUsec,
                NrPeriods = Cpu("nr_periods"),
                NrThrottled = Cpu("nr_throttled"),
                ThrottledUsec = Cpu("throttled_usec"),
            },
            Memory = new MemoryStat
            {
                Anon = Mem("anon"),
                File = Mem("file"),
                KernelStack = Mem("kernel_stack"),
                Slab = Mem("slab"),
                Sock = Mem("sock"),
                Shmem = Mem("shmem"),
                FileMapped = Mem("file_mapped"),
                FileDirty = Mem("file_dirty"),
                FileWriteback = Mem("file_writeback"),
                AnonThp = Mem("anon_thp"),
                InactiveAnon = Mem("inactive_anon"),
                ActiveAnon = Mem("active_anon"),
                InactiveFile = Mem("inactive_file"),
                ActiveFile = Mem("active_file"),
                Unevictable = Mem("unevictable"),
                SlabReclaimable = Mem("slab_reclaimable"),
                SlabUnreclaimable = Mem("slab_unreclaimable"),
                Pgfault = Mem("pgfault"),
                Pgmajfault = Mem("pgmajfault"),
                Usage = stats.MemoryUsage,
                UsageLimit = stats.MemoryLimit,
                SwapUsage = stats.SwapUsage,
                SwapLimit = stats.SwapLimit,
            },
            MemoryEvents = new MemoryEvents
            {
                Low = Event("low"),
                High = Event("high"),
                Max = Event("max"),
                Oom = Event("oom"),
                OomKill = Event("oom_kill"),
            },
        };
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 400, Level = LogLevel.Warning,
            Message = "Runtime options of type {TypeUrl} for task {TaskId} carry nothing this shim reads; using the default configuration lookup")]
        public static partial void OptionsIgnored(ILogger logger, string typeUrl, string taskId);
    }
}
