using System.Collections.Concurrent;
using Cc.Shim.Sandbox;

namespace Cc.Shim.Tests.Fakes;

/// <summary>
/// A VM and guest agent in memory: processes exit when signalled (128 + signal) or when a test says so; output is
/// whatever a test queued. Records every call so tests can assert what reached the "guest".
/// </summary>
public sealed class FakeEngine : IVmLauncher, IRootfsProvider
{
    public FakeVm? Vm { get; private set; }
    public int Launches;
    public ConcurrentQueue<string> Calls { get; } = new();
    public ConcurrentDictionary<string, string> PreparedRootfs { get; } = new();
    public Exception? FailLaunch { get; set; }
    public VmLaunchRequest? LastLaunch { get; private set; }

    public Task<ISandboxVm> LaunchAsync(VmLaunchRequest request, CancellationToken cancellationToken)
    {
        if (FailLaunch is { } failure)
        {
            throw failure;
        }
        Interlocked.Increment(ref Launches);
        LastLaunch = request;
        Vm = new FakeVm(this, 40000 + Launches);
        return Task.FromResult<ISandboxVm>(Vm);
    }

    public Task<SharedContainer> PrepareAsync(string containerId, string bundle, IReadOnlyList<RootfsMount> mounts,
        ReadOnlyMemory<byte> spec, string sharedDirectory, CancellationToken cancellationToken)
    {
        PreparedRootfs[containerId] = sharedDirectory;
        return Task.FromResult(new SharedContainer($"/run/cc/shared/containers/{containerId}/rootfs", spec));
    }

    public Task ReleaseAsync(string containerId, string sharedDirectory, CancellationToken cancellationToken)
    {
        PreparedRootfs.TryRemove(containerId, out _);
        return Task.CompletedTask;
    }
}

public sealed class FakeVm : ISandboxVm, IGuestAgent, IGuestStdio
{
    private readonly FakeEngine _engine;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<ProcessKey, TaskCompletionSource<ExitStatus>> _exits = new();
    private readonly ConcurrentDictionary<(ProcessKey, StdioStream), ConcurrentQueue<byte[]>> _output = new();

    public FakeVm(FakeEngine engine, int pid)
    {
        _engine = engine;
        Pid = pid;
    }

    public int Pid { get; }
    public Task Exited => _exited.Task;
    public IGuestAgent Agent => this;
    public IGuestStdio Stdio => this;

    /// <summary>The VM's resize seam; null (the default) is a fixed-size VM.</summary>
    public IVmResize? Resize { get; set; }

    /// <summary>Guest cgroup updates and VM resizes in the order they happened ("cgroup c1", "resize 1152 MiB, 2 vCPUs").</summary>
    public ConcurrentQueue<string> Steps { get; } = new();
    public bool Stopped { get; private set; }
    public ConcurrentDictionary<ProcessKey, string> StdinReceived { get; } = new();
    public ConcurrentDictionary<string, int> Signals { get; } = new();

    /// <summary>Makes a running process exit with <paramref name="code"/> (after its queued output).</summary>
    public void Exit(ProcessKey key, uint code) =>
        ExitOf(key).TrySetResult(new ExitStatus(code, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000)));

    public void QueueOutput(ProcessKey key, StdioStream stream, string text) =>
        _output.GetOrAdd((key, stream), _ => new()).Enqueue(System.Text.Encoding.UTF8.GetBytes(text));

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Stopped = true;
        _exited.TrySetResult();
        foreach (var exit in _exits.Values)
        {
            exit.TrySetException(new IOException("VM stopped"));
        }
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }

    /// <summary>When set, completed as a CreateContainer reaches the "guest".</summary>
    public TaskCompletionSource? CreateArrived { get; set; }

    /// <summary>When set, CreateContainer answers only once this completes (to change the world half-way through a Create).</summary>
    public TaskCompletionSource? CreateGate { get; set; }

    public async Task CreateContainerAsync(string containerId, ReadOnlyMemory<byte> ociSpecJson, string guestRootfs, StdioSpec stdio,
        PodMembership membership, CancellationToken cancellationToken)
    {
        _engine.Calls.Enqueue(membership.Role == PodRole.None
            ? $"create {containerId} {guestRootfs}"
            : $"create {containerId} {guestRootfs} role={membership.Role} sandbox={membership.SandboxContainerId}");
        ExitOf(new ProcessKey(containerId, ""));
        CreateArrived?.TrySetResult();
        if (CreateGate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }
    }

    public Task ExecAsync(ExecRequest request, CancellationToken cancellationToken)
    {
        _engine.Calls.Enqueue($"exec {request.ContainerId}/{request.ExecId} {System.Text.Encoding.UTF8.GetString(request.ProcessJson.Span)}");
        var key = new ProcessKey(request.ContainerId, request.ExecId);
        ExitOf(key);
        RegisteredExecs[key] = request;
        ExecRegistered?.Invoke(request);
        return Task.CompletedTask;
    }

    /// <summary>The execs registered and neither started nor taken back: what the real guest proxy keeps stored.</summary>
    public ConcurrentDictionary<ProcessKey, ExecRequest> RegisteredExecs { get; } = new();

    /// <summary>Runs right after an exec is registered, before the shim opens its stdio (a test makes a FIFO vanish there).</summary>
    public Action<ExecRequest>? ExecRegistered { get; set; }

    public void ForgetExec(ProcessKey process)
    {
        _engine.Calls.Enqueue($"forget {process}");
        RegisteredExecs.TryRemove(process, out _);
    }

    /// <summary>The <see cref="CallerDeadline"/> each kind of guest call saw, by call name ("start", "wait").</summary>
    public ConcurrentDictionary<string, DateTimeOffset?> CallerDeadlines { get; } = new();

    public Task<uint> StartAsync(ProcessKey process, CancellationToken cancellationToken)
    {
        CallerDeadlines["start"] = CallerDeadline.Current;
        _engine.Calls.Enqueue($"start {process}");
        RegisteredExecs.TryRemove(process, out _);
        return Task.FromResult(7u);
    }

    public Task SignalAsync(ProcessKey process, int signal, bool all, CancellationToken cancellationToken)
    {
        _engine.Calls.Enqueue($"signal {process} {signal} all={all}");
        Signals.AddOrUpdate(process.ToString(), signal, (_, _) => signal);
        if (signal is 9 or 15)
        {
            Exit(process, (uint)(128 + signal));
        }
        return Task.CompletedTask;
    }

    public Task<ExitStatus> WaitAsync(ProcessKey process, CancellationToken cancellationToken)
    {
        CallerDeadlines["wait"] = CallerDeadline.Current;
        WaitArrived.TrySetResult();
        return ExitOf(process).Task.WaitAsync(cancellationToken);
    }

    /// <summary>Set when the first exit watch reaches the "guest".</summary>
    public TaskCompletionSource WaitArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set when a RemoveContainer reaches the "guest".</summary>
    public TaskCompletionSource RemoveArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>When set, RemoveContainer answers only once this completes (to hold a Delete half-way).</summary>
    public TaskCompletionSource? RemoveGate { get; set; }

    public async Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken)
    {
        _engine.Calls.Enqueue($"remove {containerId}");
        RemoveArrived.TrySetResult();
        if (RemoveGate is { } gate)
        {
            await gate.Task.WaitAsync(cancellationToken);
        }
    }

    public Task PauseAsync(string containerId, CancellationToken cancellationToken)
    {
        _engine.Calls.Enqueue($"pause {containerId}");
        return Task.CompletedTask;
    }

    public Task ResumeAsync(string containerId, CancellationToken cancellationToken)
    {
        _engine.Calls.Enqueue($"resume {containerId}");
        return Task.CompletedTask;
    }

    public Task<ContainerStats> StatsAsync(string containerId, CancellationToken cancellationToken) =>
        Task.FromResult(new ContainerStats(1000, 600, 400, 4096, 1 << 30, 3, 100)
        {
            SwapLimit = ulong.MaxValue,
            CpuStat = new Dictionary<string, ulong> { ["usage_usec"] = 1000, ["nr_throttled"] = 2 },
            MemoryStat = new Dictionary<string, ulong> { ["anon"] = 2048, ["inactive_file"] = 1024, ["pgfault"] = 77 },
            MemoryEvents = new Dictionary<string, ulong> { ["oom"] = 2, ["oom_kill"] = 1 },
        });

    /// <summary>The resources JSON of each UpdateResourcesAsync, by container id.</summary>
    public ConcurrentQueue<(string ContainerId, string Json)> Updates { get; } = new();

    public Task UpdateResourcesAsync(string containerId, ReadOnlyMemory<byte> resourcesJson, CancellationToken cancellationToken)
    {
        Updates.Enqueue((containerId, System.Text.Encoding.UTF8.GetString(resourcesJson.Span)));
        Steps.Enqueue("cgroup " + containerId);
        return Task.CompletedTask;
    }

    /// <summary>A test writes a container id here to make the "guest" report an OOM kill in it.</summary>
    public System.Threading.Channels.Channel<string> OomKills { get; } = System.Threading.Channels.Channel.CreateUnbounded<string>();

    public async Task<string> WaitForOomAsync(CancellationToken cancellationToken) =>
        await OomKills.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);

    public Task<IReadOnlyList<GuestProcess>> ListProcessesAsync(string containerId, CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<GuestProcess>>([new GuestProcess(1, "sh"), new GuestProcess(12, "sleep", "e1")]);

    public async Task<int> ReadAsync(ProcessKey process, StdioStream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        // Output queued by the test comes first; end of stream once the process has exited.
        while (true)
        {
            if (_output.TryGetValue((process, stream), out var queue) && queue.TryDequeue(out var chunk))
            {
                chunk.CopyTo(buffer);
                return chunk.Length;
            }
            var exit = ExitOf(process).Task;
            if (exit.IsCompleted)
            {
                return 0;
            }
            await Task.WhenAny(exit, Task.Delay(20, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    public Task WriteStdinAsync(ProcessKey process, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        StdinReceived.AddOrUpdate(process, _ => System.Text.Encoding.UTF8.GetString(data.Span),
            (_, old) => old + System.Text.Encoding.UTF8.GetString(data.Span));
        return Task.CompletedTask;
    }

    public Task CloseStdinAsync(ProcessKey process, CancellationToken cancellationToken)
    {
        _engine.Calls.Enqueue($"close-stdin {process}");
        return Task.CompletedTask;
    }

    public Task ResizePtyAsync(ProcessKey process, uint columns, uint rows, CancellationToken cancellationToken)
    {
        _engine.Calls.Enqueue($"resize {process} {columns}x{rows}");
        return Task.CompletedTask;
    }

    /// <summary>While set, health checks get no answer (a hung guest).</summary>
    public bool AgentSilent { get; set; }

    /// <summary>Health checks that reached the "agent".</summary>
    public int Pings;

    public async Task PingAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Pings);
        if (Died)
        {
            throw new SandboxUnavailableException("the guest agent is unreachable: connection closed");
        }
        if (AgentSilent)
        {
            await Task.Delay(timeout, cancellationToken).ConfigureAwait(false);
            throw new TimeoutException("the fake agent did not answer");
        }
    }

    /// <summary>
    /// The VMM dies (as after kill -9 of QEMU): <see cref="Exited"/> completes and every outstanding guest wait fails,
    /// as the agent session's calls fail when the connection drops.
    /// </summary>
    public void Die()
    {
        Died = true;
        _exited.TrySetResult();
        foreach (var exit in _exits.Values)
        {
            exit.TrySetException(new SandboxUnavailableException("the guest agent is unreachable: connection closed"));
        }
    }

    public bool Died { get; private set; }

    public bool Disposed { get; private set; }

    private TaskCompletionSource<ExitStatus> ExitOf(ProcessKey key) =>
        _exits.GetOrAdd(key, _ => new TaskCompletionSource<ExitStatus>(TaskCreationOptions.RunContinuationsAsynchronously));
}

/// <summary>A VM that resizes to whatever it is asked (within its headroom, as SandboxVm clamps), or fails when told to.</summary>
public sealed class FakeResize(ConcurrentQueue<string> steps, VmSize boot, VmSize max) : IVmResize
{
    public VmSize Boot { get; } = boot;
    public VmSize Max { get; } = max;
    public VmSize Current { get; private set; } = boot;

    /// <summary>Set to make the next resizes fail the way a QMP error does.</summary>
    public Exception? Failure { get; set; }

    public Task<VmSize> ResizeAsync(VmSize target, CancellationToken cancellationToken)
    {
        if (Failure is { } failure)
        {
            steps.Enqueue($"resize {target} failed");
            return Task.FromException<VmSize>(failure);
        }
        steps.Enqueue("resize " + target);
        Current = target;
        return Task.FromResult(target);
    }
}
