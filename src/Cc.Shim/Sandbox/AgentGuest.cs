using System.Collections.Concurrent;
using Cc.Agent.Protocol;
using Cc.Ttrpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using V1 = Cc.Agent.Protocol.V1;

namespace Cc.Shim.Sandbox;

/// <summary>
/// <see cref="IGuestAgent"/> and <see cref="IGuestStdio"/> over our agent's ttrpc API (api/agent/v1/agent.proto).
/// One mismatch is bridged here: the agent's ExecProcess creates <em>and starts</em> a process, while containerd
/// registers an exec (Exec) before starting it (Start). The exec's request is kept until Start, and reads of its
/// output wait for that start.
/// Every request-scoped call carries a deadline on the wire (<see cref="AgentDeadlines"/>, shortened to the Task API
/// caller's <see cref="CallerDeadline"/>); long-polls carry none.
/// </summary>
public sealed class AgentGuest : IGuestAgent, IGuestStdio
{
    private readonly AgentClient _agent;
    private readonly AgentDeadlines _deadlines;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<ProcessKey, ExecRequest> _pendingExecs = new();
    private readonly ConcurrentDictionary<ProcessKey, TaskCompletionSource> _started = new();

    public AgentGuest(AgentClient agent, AgentDeadlines? deadlines = null, TimeProvider? time = null)
    {
        _agent = agent;
        _deadlines = deadlines ?? AgentDeadlines.Default;
        _time = time ?? TimeProvider.System;
    }

    public async Task CreateContainerAsync(string containerId, ReadOnlyMemory<byte> ociSpecJson, string guestRootfs, StdioSpec stdio,
        PodMembership membership, CancellationToken cancellationToken)
    {
        await Call(_agent.CreateContainerAsync(new V1.CreateContainerRequest
        {
            ContainerId = containerId,
            OciSpecJson = ByteString.CopyFrom(ociSpecJson.Span),
            RootfsPath = guestRootfs,
            Stdio = new V1.StdioOptions { Terminal = stdio.Terminal, Stdin = stdio.Stdin.Length > 0 },
            PodRole = membership.Role switch
            {
                PodRole.Sandbox => V1.PodRole.Sandbox,
                PodRole.Container => V1.PodRole.Container,
                _ => V1.PodRole.None,
            },
            SandboxContainerId = membership.SandboxContainerId,
        }, Deadline(_deadlines.Create, cancellationToken))).ConfigureAwait(false);
        Started(new ProcessKey(containerId, "")).TrySetResult();
    }

    public Task ExecAsync(ExecRequest request, CancellationToken cancellationToken)
    {
        _pendingExecs[new ProcessKey(request.ContainerId, request.ExecId)] = request;
        return Task.CompletedTask;
    }

    public void ForgetExec(ProcessKey process)
    {
        _pendingExecs.TryRemove(process, out _);
        _started.TryRemove(process, out _);
    }

    public async Task<uint> StartAsync(ProcessKey process, CancellationToken cancellationToken)
    {
        if (process.IsInit)
        {
            var started = await Call(_agent.StartContainerAsync(new V1.StartContainerRequest { ContainerId = process.ContainerId },
                Deadline(_deadlines.Start, cancellationToken))).ConfigureAwait(false);
            return (uint)started.Pid;
        }
        if (!_pendingExecs.TryRemove(process, out var exec))
        {
            throw new NotFoundException($"process {process.ExecId}: not registered");
        }
        var response = await Call(_agent.ExecProcessAsync(new V1.ExecProcessRequest
        {
            ContainerId = exec.ContainerId,
            ExecId = exec.ExecId,
            OciProcessJson = ByteString.CopyFrom(exec.ProcessJson.Span),
            Stdio = new V1.StdioOptions { Terminal = exec.Stdio.Terminal, Stdin = exec.Stdio.Stdin.Length > 0 },
        }, Deadline(_deadlines.Start, cancellationToken))).ConfigureAwait(false);
        Started(process).TrySetResult();
        return (uint)response.Pid;
    }

    public Task SignalAsync(ProcessKey process, int signal, bool all, CancellationToken cancellationToken) =>
        Call(_agent.SignalProcessAsync(new V1.SignalProcessRequest
        {
            ContainerId = process.ContainerId, ExecId = process.ExecId, Signal = signal, All = all,
        }, Deadline(_deadlines.Kill, cancellationToken)));

    public async Task<ExitStatus> WaitAsync(ProcessKey process, CancellationToken cancellationToken)
    {
        await Started(process).Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        var exit = await Call(_agent.WaitProcessAsync(new V1.WaitProcessRequest
        {
            ContainerId = process.ContainerId, ExecId = process.ExecId,
        }, LongPoll(cancellationToken))).ConfigureAwait(false);
        return new ExitStatus(exit.ExitStatus, exit.ExitedAt?.ToDateTimeOffset() ?? DateTimeOffset.UtcNow);
    }

    public Task RemoveContainerAsync(string containerId, CancellationToken cancellationToken) =>
        Call(_agent.RemoveContainerAsync(new V1.RemoveContainerRequest { ContainerId = containerId },
            Deadline(_deadlines.Delete, cancellationToken)));

    public Task PauseAsync(string containerId, CancellationToken cancellationToken) =>
        Call(_agent.PauseContainerAsync(new V1.PauseContainerRequest { ContainerId = containerId }, Deadline(_deadlines.Other, cancellationToken)));

    public Task ResumeAsync(string containerId, CancellationToken cancellationToken) =>
        Call(_agent.ResumeContainerAsync(new V1.ResumeContainerRequest { ContainerId = containerId }, Deadline(_deadlines.Other, cancellationToken)));

    public async Task<ContainerStats> StatsAsync(string containerId, CancellationToken cancellationToken)
    {
        var s = await Call(_agent.StatsContainerAsync(new V1.StatsContainerRequest { ContainerId = containerId },
            Deadline(_deadlines.Other, cancellationToken))).ConfigureAwait(false);
        return new ContainerStats(s.CpuUsageUsec, s.CpuUserUsec, s.CpuSystemUsec, s.MemoryCurrent, s.MemoryMax, s.PidsCurrent, s.PidsMax)
        {
            SwapUsage = s.MemorySwapCurrent,
            SwapLimit = s.MemorySwapMax,
            CpuStat = s.CpuStat.ToDictionary(),
            MemoryStat = s.MemoryStat.ToDictionary(),
            MemoryEvents = s.MemoryEvents.ToDictionary(),
        };
    }

    public Task UpdateResourcesAsync(string containerId, ReadOnlyMemory<byte> resourcesJson, CancellationToken cancellationToken) =>
        Call(_agent.UpdateContainerAsync(new V1.UpdateContainerRequest
        {
            ContainerId = containerId, ResourcesJson = ByteString.CopyFrom(resourcesJson.Span),
        }, Deadline(_deadlines.Other, cancellationToken)));

    public async Task<string> WaitForOomAsync(CancellationToken cancellationToken) =>
        (await Call(_agent.GetOomEventAsync(new V1.GetOomEventRequest(), LongPoll(cancellationToken))).ConfigureAwait(false)).ContainerId;

    public async Task<IReadOnlyList<GuestProcess>> ListProcessesAsync(string containerId, CancellationToken cancellationToken)
    {
        var list = await Call(_agent.ListProcessesAsync(new V1.ListProcessesRequest { ContainerId = containerId },
            Deadline(_deadlines.Other, cancellationToken))).ConfigureAwait(false);
        return list.Processes.Select(p => new GuestProcess((uint)p.Pid, p.CommandLine, p.ExecId)).ToList();
    }

    public Task PingAsync(TimeSpan timeout, CancellationToken cancellationToken) =>
        Call(_agent.CheckAsync(new V1.CheckRequest(), new CallOptions(timeout, CancellationToken: cancellationToken)));

    public async Task<int> ReadAsync(ProcessKey process, StdioStream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        await Started(process).Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        var request = new V1.ReadStreamRequest
        {
            ContainerId = process.ContainerId, ExecId = process.ExecId, MaxBytes = (uint)buffer.Length,
        };
        var response = await Call(stream == StdioStream.Stdout
            ? _agent.ReadStdoutAsync(request, LongPoll(cancellationToken))
            : _agent.ReadStderrAsync(request, LongPoll(cancellationToken))).ConfigureAwait(false);
        response.Data.Span.CopyTo(buffer.Span);
        return response.Data.Length;
    }

    public async Task WriteStdinAsync(ProcessKey process, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await Started(process).Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        await Call(_agent.WriteStdinAsync(new V1.WriteStdinRequest
        {
            ContainerId = process.ContainerId, ExecId = process.ExecId, Data = ByteString.CopyFrom(data.Span),
        }, Deadline(_deadlines.Other, cancellationToken))).ConfigureAwait(false);
    }

    public Task CloseStdinAsync(ProcessKey process, CancellationToken cancellationToken) =>
        Call(_agent.CloseStdinAsync(new V1.CloseStdinRequest { ContainerId = process.ContainerId, ExecId = process.ExecId },
            Deadline(_deadlines.Other, cancellationToken)));

    public Task ResizePtyAsync(ProcessKey process, uint columns, uint rows, CancellationToken cancellationToken) =>
        Call(_agent.ResizePtyAsync(new V1.ResizePtyRequest
        {
            ContainerId = process.ContainerId, ExecId = process.ExecId, Columns = columns, Rows = rows,
        }, Deadline(_deadlines.Other, cancellationToken)));

    private TaskCompletionSource Started(ProcessKey process) =>
        _started.GetOrAdd(process, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>A call with a deadline on the wire: the kind's, or the Task API caller's if that is earlier.</summary>
    private CallOptions Deadline(TimeSpan kind, CancellationToken cancellationToken) =>
        new(CallerDeadline.Effective(kind, _time), CancellationToken: cancellationToken);

    /// <summary>A long-poll: no deadline, it lasts until its event; the VM's health check bounds a silent agent.</summary>
    private static CallOptions LongPoll(CancellationToken cancellationToken) => new(CancellationToken: cancellationToken);

    /// <summary>The agent's NotFound is the domain's NotFound; a lost connection means the VM is gone.</summary>
    private static async Task<T> Call<T>(Task<T> call)
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
