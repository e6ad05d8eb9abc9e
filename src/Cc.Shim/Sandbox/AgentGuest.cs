using System.Collections.Concurrent;
using Cc.Agent.Protocol;
using Cc.Ttrpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using V1 = Cc.Agent.Protocol.V1;

namespace Cc.Shim.Sandbox;

/// <summary>
/// The pod's guest agent as the sandbox uses it: the generated <see cref="IAgentClient"/> of api/agent/v1/agent.proto,
/// plus what the wire does not do by itself.
/// <list type="bullet">
/// <item><see cref="CallAsync{TResponse}"/>, which every call goes through: a deadline on the wire (the call kind's
/// <see cref="AgentDeadlines"/>, shortened to the Task API caller's <see cref="CallerDeadline"/>; long-polls carry
/// none) and the one mapping of the agent's failures to the domain's (NotFound, a lost session, whose deadline).</item>
/// <item>The exec bridge: the agent's ExecProcess creates <em>and starts</em> a process, while containerd registers an
/// exec (Exec) before starting it (Start). The exec's request is kept here until Start or <see cref="ForgetExec"/>, and
/// reads of a process's output and writes to its stdin wait for its start; a close of its stdin before its start is
/// kept and sent right after it (<see cref="CloseStdinAsync"/>).</item>
/// <item>Translations between domain types and agent messages that call sites share.</item>
/// </list>
/// A new rpc needs nothing here: its call site passes the generated client method to <see cref="CallAsync{TResponse}"/>
/// (docs/agent-api.md, "Adding an agent call").
/// </summary>
public sealed class AgentGuest : IGuestStdio
{
    private readonly IAgentClient _agent;
    private readonly AgentDeadlines _deadlines;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<ProcessKey, ExecRequest> _pendingExecs = new();
    private readonly ConcurrentDictionary<ProcessKey, TaskCompletionSource> _started = new();

    /// <summary>Processes whose stdin was closed before they existed in the guest; whoever removes a key sends its close.</summary>
    private readonly ConcurrentDictionary<ProcessKey, byte> _closeStdinAtStart = new();

    public AgentGuest(IAgentClient agent, AgentDeadlines? deadlines = null, TimeProvider? time = null)
    {
        _agent = agent;
        _deadlines = deadlines ?? AgentDeadlines.Default;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The execs registered and neither started nor taken back: all the shim keeps of an exec before its Start.</summary>
    public IReadOnlyCollection<ProcessKey> RegisteredExecs => [.. _pendingExecs.Keys];

    /// <summary>
    /// One agent call of <paramref name="kind"/>: <paramref name="call"/> gets the client and the options to send (the
    /// deadline, <paramref name="cancellationToken"/>). The agent's NotFound becomes <see cref="NotFoundException"/>, a
    /// lost connection <see cref="SandboxUnavailableException"/>; other statuses stay <see cref="TtrpcException"/>s.
    /// </summary>
    public Task<TResponse> CallAsync<TResponse>(AgentCallKind kind, Func<IAgentClient, CallOptions, Task<TResponse>> call,
        CancellationToken cancellationToken)
    {
        // The deadline is taken now, in the caller's flow: CallerDeadline is an AsyncLocal of the Task API call.
        var options = _deadlines.For(kind) is { } deadline
            ? new CallOptions(CallerDeadline.Effective(deadline, _time), CancellationToken: cancellationToken)
            : new CallOptions(CancellationToken: cancellationToken);
        return Mapped(call(_agent, options));
    }

    /// <summary>
    /// Creates the container's init process without starting it. <paramref name="guestRootfs"/> is the guest path;
    /// <paramref name="membership"/> tells the guest which pod namespaces the container gets or joins.
    /// </summary>
    public async Task CreateContainerAsync(string containerId, ReadOnlyMemory<byte> ociSpecJson, string guestRootfs, StdioSpec stdio,
        PodMembership membership, CancellationToken cancellationToken)
    {
        var request = new V1.CreateContainerRequest
        {
            ContainerId = containerId,
            OciSpecJson = ByteString.CopyFrom(ociSpecJson.Span),
            RootfsPath = guestRootfs,
            Stdio = Stdio(stdio),
            PodRole = membership.Role switch
            {
                PodRole.Sandbox => V1.PodRole.Sandbox,
                PodRole.Container => V1.PodRole.Container,
                _ => V1.PodRole.None,
            },
            SandboxContainerId = membership.SandboxContainerId,
        };
        await CallAsync(AgentCallKind.Create, (agent, options) => agent.CreateContainerAsync(request, options), cancellationToken)
            .ConfigureAwait(false);
        var init = new ProcessKey(containerId, "");
        Started(init).TrySetResult();
        await CloseStdinKeptForStartAsync(init, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Registers an extra process without starting it: nothing reaches the guest before <see cref="StartAsync"/>.</summary>
    public Task ExecAsync(ExecRequest request, CancellationToken cancellationToken)
    {
        _pendingExecs[new ProcessKey(request.ContainerId, request.ExecId)] = request;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Takes back an exec that <see cref="ExecAsync"/> registered: its Exec failed after the registration (a stdio FIFO
    /// vanished) or it is deleted. Nothing of it stays stored; a no-op for an unknown key.
    /// </summary>
    public void ForgetExec(ProcessKey process)
    {
        _pendingExecs.TryRemove(process, out _);
        _started.TryRemove(process, out _);
        _closeStdinAtStart.TryRemove(process, out _);
    }

    /// <summary>Starts a created init, or creates and starts a registered exec; returns its guest pid.</summary>
    public async Task<uint> StartAsync(ProcessKey process, CancellationToken cancellationToken)
    {
        if (process.IsInit)
        {
            var request = new V1.StartContainerRequest { ContainerId = process.ContainerId };
            var started = await CallAsync(AgentCallKind.Start, (agent, options) => agent.StartContainerAsync(request, options),
                cancellationToken).ConfigureAwait(false);
            return (uint)started.Pid;
        }
        if (!_pendingExecs.TryRemove(process, out var exec))
        {
            throw new NotFoundException($"process {process.ExecId}: not registered");
        }
        var execRequest = new V1.ExecProcessRequest
        {
            ContainerId = exec.ContainerId,
            ExecId = exec.ExecId,
            OciProcessJson = ByteString.CopyFrom(exec.ProcessJson.Span),
            Stdio = Stdio(exec.Stdio),
        };
        var response = await CallAsync(AgentCallKind.Start, (agent, options) => agent.ExecProcessAsync(execRequest, options),
            cancellationToken).ConfigureAwait(false);
        Started(process).TrySetResult();
        await CloseStdinKeptForStartAsync(process, cancellationToken).ConfigureAwait(false);
        return (uint)response.Pid;
    }

    public Task SignalAsync(ProcessKey process, int signal, bool all, CancellationToken cancellationToken) =>
        CallAsync(AgentCallKind.Kill, (agent, options) => agent.SignalProcessAsync(new V1.SignalProcessRequest
        {
            ContainerId = process.ContainerId, ExecId = process.ExecId, Signal = signal, All = all,
        }, options), cancellationToken);

    /// <summary>Completes when the process has exited and its output is drained in the guest.</summary>
    public async Task<GuestExit> WaitAsync(ProcessKey process, CancellationToken cancellationToken)
    {
        await Started(process).Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        var exit = await CallAsync(AgentCallKind.LongPoll, (agent, options) => agent.WaitProcessAsync(new V1.WaitProcessRequest
        {
            ContainerId = process.ContainerId, ExecId = process.ExecId,
        }, options), cancellationToken).ConfigureAwait(false);
        return new GuestExit(new ExitStatus(exit.ExitStatus, exit.ExitedAt?.ToDateTimeOffset() ?? DateTimeOffset.UtcNow),
            exit.OomKills);
    }

    public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken) =>
        CallAsync(AgentCallKind.Delete, (agent, options) =>
            agent.RemoveContainerAsync(new V1.RemoveContainerRequest { ContainerId = containerId }, options), cancellationToken);

    public Task PauseAsync(string containerId, CancellationToken cancellationToken) =>
        CallAsync(AgentCallKind.Other, (agent, options) =>
            agent.PauseContainerAsync(new V1.PauseContainerRequest { ContainerId = containerId }, options), cancellationToken);

    public Task ResumeAsync(string containerId, CancellationToken cancellationToken) =>
        CallAsync(AgentCallKind.Other, (agent, options) =>
            agent.ResumeContainerAsync(new V1.ResumeContainerRequest { ContainerId = containerId }, options), cancellationToken);

    public async Task<ContainerStats> StatsAsync(string containerId, CancellationToken cancellationToken)
    {
        var s = await CallAsync(AgentCallKind.Other, (agent, options) =>
            agent.StatsContainerAsync(new V1.StatsContainerRequest { ContainerId = containerId }, options), cancellationToken)
            .ConfigureAwait(false);
        return new ContainerStats(s.CpuUsageUsec, s.CpuUserUsec, s.CpuSystemUsec, s.MemoryCurrent, s.MemoryMax, s.PidsCurrent, s.PidsMax)
        {
            SwapUsage = s.MemorySwapCurrent,
            SwapLimit = s.MemorySwapMax,
            CpuStat = s.CpuStat.ToDictionary(),
            MemoryStat = s.MemoryStat.ToDictionary(),
            MemoryEvents = s.MemoryEvents.ToDictionary(),
        };
    }

    /// <summary>
    /// Applies new limits (an OCI LinuxResources JSON document, as Task Update carries it) to the container's cgroup in
    /// the guest. The VM's own size is the sandbox's to change (<see cref="IVmResize"/>).
    /// </summary>
    public Task UpdateResourcesAsync(string containerId, ReadOnlyMemory<byte> resourcesJson, CancellationToken cancellationToken) =>
        CallAsync(AgentCallKind.Other, (agent, options) => agent.UpdateContainerAsync(new V1.UpdateContainerRequest
        {
            ContainerId = containerId, ResourcesJson = ByteString.CopyFrom(resourcesJson.Span),
        }, options), cancellationToken);

    /// <summary>Waits for the next OOM kill in any container of the guest; returns that container's id and kill count.</summary>
    public async Task<GuestOomKills> WaitForOomAsync(CancellationToken cancellationToken)
    {
        var kills = await CallAsync(AgentCallKind.LongPoll, (agent, options) => agent.GetOomEventAsync(new V1.GetOomEventRequest(), options),
            cancellationToken).ConfigureAwait(false);
        return new GuestOomKills(kills.ContainerId, kills.OomKills);
    }

    public async Task<IReadOnlyList<GuestProcess>> ListProcessesAsync(string containerId, CancellationToken cancellationToken)
    {
        var list = await CallAsync(AgentCallKind.Other, (agent, options) =>
            agent.ListProcessesAsync(new V1.ListProcessesRequest { ContainerId = containerId }, options), cancellationToken)
            .ConfigureAwait(false);
        return list.Processes.Select(p => new GuestProcess((uint)p.Pid, p.CommandLine, p.ExecId)).ToList();
    }

    // The VM's own calls (QemuVmLauncher): announce the pod, keep its clock, online hot-plugged CPUs, end it. Each goes
    // through CallAsync like a container's call, with its kind's deadline.

    /// <summary>How long the guest waits for hot-plugged CPUs to appear and come online (OnlineCpus' own bound).</summary>
    public static readonly TimeSpan OnlineCpusGuestWait = TimeSpan.FromSeconds(30);

    /// <summary>Announces the pod to a booted guest: hostname, network, sysctls, the host's time and entropy.</summary>
    public Task CreateSandboxAsync(V1.CreateSandboxRequest request, CancellationToken cancellationToken) =>
        CallAsync(AgentCallKind.SandboxSetup, (agent, options) => agent.CreateSandboxAsync(request, options), cancellationToken);

    /// <summary>Sets the guest's wall clock to <paramref name="hostTime"/>.</summary>
    public Task SetTimeAsync(DateTimeOffset hostTime, CancellationToken cancellationToken) =>
        CallAsync(AgentCallKind.Clock, (agent, options) =>
            agent.SetTimeAsync(new V1.SetTimeRequest { HostTime = Timestamp.FromDateTimeOffset(hostTime) }, options), cancellationToken);

    /// <summary>
    /// Has the guest online hot-plugged CPUs until <paramref name="count"/> are online (waiting up to
    /// <see cref="OnlineCpusGuestWait"/> for them to appear); returns what it then sees.
    /// </summary>
    public async Task<GuestCpuReport> OnlineCpusAsync(int count, CancellationToken cancellationToken)
    {
        var request = new V1.OnlineCpusRequest { Count = (uint)count, TimeoutMs = (uint)OnlineCpusGuestWait.TotalMilliseconds };
        var report = await CallAsync(AgentCallKind.Hotplug, (agent, options) => agent.OnlineCpusAsync(request, options), cancellationToken)
            .ConfigureAwait(false);
        return new GuestCpuReport((int)report.Online, report.MemTotalKib);
    }

    /// <summary>Asks the guest to end the pod's processes before its VM is stopped.</summary>
    public Task DestroySandboxAsync(CancellationToken cancellationToken) =>
        CallAsync(AgentCallKind.SandboxStop, (agent, options) => agent.DestroySandboxAsync(new V1.DestroySandboxRequest(), options),
            cancellationToken);

    /// <summary>The agent's health check: completes when the agent answers, fails when it does not within <paramref name="timeout"/>.</summary>
    public Task PingAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        Mapped(_agent.CheckAsync(new V1.CheckRequest(), new CallOptions(timeout, CancellationToken: cancellationToken)));

    public async Task<ReadOnlyMemory<byte>> ReadAsync(ProcessKey process, StdioStream stream, int maxBytes,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, IGuestStdio.MaxReadBytes);
        await Started(process).Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        var request = new V1.ReadStreamRequest
        {
            ContainerId = process.ContainerId, ExecId = process.ExecId, MaxBytes = (uint)maxBytes,
        };
        var response = await CallAsync(AgentCallKind.LongPoll, (agent, options) => stream == StdioStream.Stdout
            ? agent.ReadStdoutAsync(request, options)
            : agent.ReadStderrAsync(request, options), cancellationToken).ConfigureAwait(false);
        // The parsed message owns its bytes (a fresh array per parse): handed on without a copy.
        return response.Data.Memory;
    }

    public async Task WriteStdinAsync(ProcessKey process, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await Started(process).Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        await CallAsync(AgentCallKind.Other, (agent, options) => agent.WriteStdinAsync(new V1.WriteStdinRequest
        {
            ContainerId = process.ContainerId, ExecId = process.ExecId, Data = ByteString.CopyFrom(data.Span),
        }, options), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Closes the process's stdin in the guest. Before its start the process does not exist there (an exec is only
    /// registered here, an init's container is still being created) and the agent would answer NotFound, leaving a
    /// process that reads stdin waiting for ever: the close is kept and sent right after the start instead, and this
    /// returns at once, as runc's CloseIO before Start closes the pipe the process will read. A client whose stdin is
    /// empty (`ctr task exec` fed /dev/null) ends its FIFO before Start.
    /// </summary>
    public Task CloseStdinAsync(ProcessKey process, CancellationToken cancellationToken)
    {
        if (!Started(process).Task.IsCompleted)
        {
            _closeStdinAtStart[process] = 0;
            // Start completes the process before it looks for a kept close: if it did so since the check above, this
            // sends the close (unless Start took the key first and sends it itself).
            if (!Started(process).Task.IsCompleted)
            {
                return Task.CompletedTask;
            }
            return CloseStdinKeptForStartAsync(process, cancellationToken);
        }
        return CloseStdinNowAsync(process, cancellationToken);
    }

    private Task CloseStdinNowAsync(ProcessKey process, CancellationToken cancellationToken) =>
        CallAsync(AgentCallKind.Other, (agent, options) => agent.CloseStdinAsync(new V1.CloseStdinRequest
        {
            ContainerId = process.ContainerId, ExecId = process.ExecId,
        }, options), cancellationToken);

    /// <summary>Sends a close kept by <see cref="CloseStdinAsync"/>, once: the caller that removes the key sends it.</summary>
    private async Task CloseStdinKeptForStartAsync(ProcessKey process, CancellationToken cancellationToken)
    {
        if (!_closeStdinAtStart.TryRemove(process, out _))
        {
            return;
        }
        try
        {
            await CloseStdinNowAsync(process, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException)
        {
            // The process ran, exited and was deleted already: there is no stdin left to close.
        }
        catch (TtrpcException)
        {
            // The agent refused the close of a process it has just started (e.g. its stdin is gone already): the start
            // itself succeeded and must not be reported as failed. A lost agent still fails it (SandboxUnavailable).
        }
    }

    public Task ResizePtyAsync(ProcessKey process, uint columns, uint rows, CancellationToken cancellationToken) =>
        CallAsync(AgentCallKind.Other, (agent, options) => agent.ResizePtyAsync(new V1.ResizePtyRequest
        {
            ContainerId = process.ContainerId, ExecId = process.ExecId, Columns = columns, Rows = rows,
        }, options), cancellationToken);

    private static V1.StdioOptions Stdio(StdioSpec stdio) => new() { Terminal = stdio.Terminal, Stdin = stdio.Stdin.Length > 0 };

    private TaskCompletionSource Started(ProcessKey process) =>
        _started.GetOrAdd(process, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>The agent's NotFound is the domain's NotFound; a lost connection means the VM is gone.</summary>
    private static async Task<T> Mapped<T>(Task<T> call)
    {
        try
        {
            return await call.ConfigureAwait(false);
        }
        catch (TtrpcException e) when (e.Code == StatusCode.NotFound)
        {
            throw new NotFoundException(e.Message);
        }
        catch (TtrpcException e) when (e.Code == StatusCode.Unavailable)
        {
            throw new SandboxUnavailableException($"the guest agent is unreachable: {e.Message}", e);
        }
        catch (TtrpcException e) when (e.Code == StatusCode.DeadlineExceeded)
        {
            // Say whose deadline it was: containerd's (forwarded) or the call kind's own.
            throw new TtrpcException(StatusCode.DeadlineExceeded, CallerDeadline.Current is { } deadline
                ? $"the guest agent did not answer before the caller's deadline {deadline:HH:mm:ss.fff}: {e.Message}"
                : $"the guest agent did not answer within its configured deadline: {e.Message}", e);
        }
    }
}
