using System.Collections.Concurrent;
using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Ttrpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using ProcessKey = Cc.Shim.Sandbox.ProcessKey;
using StdioStream = Cc.Shim.Sandbox.StdioStream;

namespace Cc.Shim.Tests.Fakes;

/// <summary>
/// The guest agent of a <see cref="FakeVm"/>, served over ttrpc: the calls the shim's tests need, answered from the VM's
/// state and recorded in <paramref name="calls"/> ("create c1 …", "signal c1 9 all=True"). Derived from the generated
/// <see cref="AgentServiceBase"/>, so a new rpc answers Unimplemented here with no edit (recorded as
/// "&lt;Method&gt; (unimplemented)"), as an older agent would answer it.
/// </summary>
internal sealed class FakeAgent(FakeVm vm, ConcurrentQueue<string> calls) : AgentServiceBase
{
    /// <summary>The guest pid every started process gets.</summary>
    public const int GuestPid = 7;

    public override async ValueTask<CheckResponse> CheckAsync(CheckRequest request, ServerCallContext context)
    {
        Interlocked.Increment(ref vm.Pings);
        if (vm.AgentSilent)
        {
            // Never answers: the call ends at its deadline (timeout_nano) or with the connection.
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }
        return new CheckResponse { Ready = true };
    }

    public override async ValueTask<CreateContainerResponse> CreateContainerAsync(CreateContainerRequest request, ServerCallContext context)
    {
        calls.Enqueue(request.PodRole == PodRole.None
            ? $"create {request.ContainerId} {request.RootfsPath}"
            : $"create {request.ContainerId} {request.RootfsPath} role={request.PodRole} sandbox={request.SandboxContainerId}");
        vm.Steps.Enqueue("create " + request.ContainerId);
        if (vm.CreateFailure is { } failure)
        {
            throw failure;
        }
        vm.ExitOf(new ProcessKey(request.ContainerId, ""));
        vm.CreateArrived?.TrySetResult();
        if (vm.CreateGate is { } gate)
        {
            await gate.Task.WaitAsync(context.CancellationToken);
        }
        return new CreateContainerResponse { Pid = GuestPid };
    }

    public override ValueTask<StartContainerResponse> StartContainerAsync(StartContainerRequest request, ServerCallContext context)
    {
        vm.CallerDeadlines["start"] = context.Deadline;
        calls.Enqueue($"start {request.ContainerId}");
        return ValueTask.FromResult(new StartContainerResponse { Pid = GuestPid });
    }

    // ExecProcess creates and starts: the two steps the Task API splits into Exec and Start are recorded in that order.
    public override ValueTask<ExecProcessResponse> ExecProcessAsync(ExecProcessRequest request, ServerCallContext context)
    {
        var key = new ProcessKey(request.ContainerId, request.ExecId);
        vm.CallerDeadlines["start"] = context.Deadline;
        calls.Enqueue($"exec {key} {request.OciProcessJson.ToStringUtf8()}");
        calls.Enqueue($"start {key}");
        vm.ExitOf(key);
        return ValueTask.FromResult(new ExecProcessResponse { Pid = GuestPid });
    }

    public override ValueTask<SignalProcessResponse> SignalProcessAsync(SignalProcessRequest request, ServerCallContext context)
    {
        var key = new ProcessKey(request.ContainerId, request.ExecId);
        calls.Enqueue($"signal {key} {request.Signal} all={request.All}");
        vm.Signals.AddOrUpdate(key.ToString(), request.Signal, (_, _) => request.Signal);
        if (request.Signal is 9 or 15)
        {
            vm.Exit(key, (uint)(128 + request.Signal));
        }
        return ValueTask.FromResult(new SignalProcessResponse());
    }

    public override async ValueTask<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, ServerCallContext context)
    {
        vm.CallerDeadlines["wait"] = context.Deadline;
        vm.WaitArrived.TrySetResult();
        var exit = await vm.ExitOf(new ProcessKey(request.ContainerId, request.ExecId)).Task.WaitAsync(context.CancellationToken);
        return new WaitProcessResponse
        {
            ExitStatus = exit.Code, ExitedAt = Timestamp.FromDateTimeOffset(exit.ExitedAt), Pid = GuestPid,
            OomKills = vm.OomKillCounts.GetValueOrDefault(request.ContainerId),
        };
    }

    public override async ValueTask<RemoveContainerResponse> RemoveContainerAsync(RemoveContainerRequest request, ServerCallContext context)
    {
        calls.Enqueue($"remove {request.ContainerId}");
        vm.RemoveArrived.TrySetResult();
        if (vm.RemoveGate is { } gate)
        {
            await gate.Task.WaitAsync(context.CancellationToken);
        }
        return new RemoveContainerResponse();
    }

    public override ValueTask<PauseContainerResponse> PauseContainerAsync(PauseContainerRequest request, ServerCallContext context)
    {
        calls.Enqueue($"pause {request.ContainerId}");
        return ValueTask.FromResult(new PauseContainerResponse());
    }

    public override ValueTask<ResumeContainerResponse> ResumeContainerAsync(ResumeContainerRequest request, ServerCallContext context)
    {
        calls.Enqueue($"resume {request.ContainerId}");
        return ValueTask.FromResult(new ResumeContainerResponse());
    }

    public override ValueTask<StatsContainerResponse> StatsContainerAsync(StatsContainerRequest request, ServerCallContext context)
    {
        var stats = new StatsContainerResponse
        {
            CpuUsageUsec = 1000, CpuUserUsec = 600, CpuSystemUsec = 400, MemoryCurrent = 4096, MemoryMax = 1 << 30,
            PidsCurrent = 3, PidsMax = 100, MemorySwapMax = ulong.MaxValue,
        };
        stats.CpuStat.Add(new Dictionary<string, ulong> { ["usage_usec"] = 1000, ["nr_throttled"] = 2 });
        stats.MemoryStat.Add(new Dictionary<string, ulong> { ["anon"] = 2048, ["inactive_file"] = 1024, ["pgfault"] = 77 });
        stats.MemoryEvents.Add(new Dictionary<string, ulong> { ["oom"] = 2, ["oom_kill"] = 1 });
        return ValueTask.FromResult(stats);
    }

    public override ValueTask<UpdateContainerResponse> UpdateContainerAsync(UpdateContainerRequest request, ServerCallContext context)
    {
        vm.Updates.Enqueue((request.ContainerId, request.ResourcesJson.ToStringUtf8()));
        vm.Steps.Enqueue("cgroup " + request.ContainerId);
        return ValueTask.FromResult(new UpdateContainerResponse());
    }

    // An id written to OomKills is one more kill, unless CountOomKillUnreported counted it already (then the answer
    // carries the count the host may have seen in an exit).
    public override async ValueTask<GetOomEventResponse> GetOomEventAsync(GetOomEventRequest request, ServerCallContext context)
    {
        var id = await vm.OomKills.Reader.ReadAsync(context.CancellationToken);
        var count = vm.TakeUnreportedOomKill(id) ? vm.OomKillCounts[id] : vm.OomKillCounts.AddOrUpdate(id, 1, (_, n) => n + 1);
        return new GetOomEventResponse { ContainerId = id, OomKills = count };
    }

    public override ValueTask<ListProcessesResponse> ListProcessesAsync(ListProcessesRequest request, ServerCallContext context) =>
        ValueTask.FromResult(new ListProcessesResponse
        {
            Processes =
            {
                new ProcessEntry { Pid = 1, CommandLine = "sh" },
                new ProcessEntry { Pid = 12, CommandLine = "sleep", ExecId = "e1" },
            },
        });

    public override ValueTask<ReadStreamResponse> ReadStdoutAsync(ReadStreamRequest request, ServerCallContext context) =>
        ReadAsync(request, StdioStream.Stdout, context);

    public override ValueTask<ReadStreamResponse> ReadStderrAsync(ReadStreamRequest request, ServerCallContext context) =>
        ReadAsync(request, StdioStream.Stderr, context);

    public override ValueTask<WriteStdinResponse> WriteStdinAsync(WriteStdinRequest request, ServerCallContext context)
    {
        var text = request.Data.ToStringUtf8();
        vm.StdinReceived.AddOrUpdate(new ProcessKey(request.ContainerId, request.ExecId), text, (_, old) => old + text);
        return ValueTask.FromResult(new WriteStdinResponse { Written = (uint)request.Data.Length });
    }

    public override ValueTask<CloseStdinResponse> CloseStdinAsync(CloseStdinRequest request, ServerCallContext context)
    {
        calls.Enqueue($"close-stdin {new ProcessKey(request.ContainerId, request.ExecId)}");
        return ValueTask.FromResult(new CloseStdinResponse());
    }

    public override ValueTask<ResizePtyResponse> ResizePtyAsync(ResizePtyRequest request, ServerCallContext context)
    {
        calls.Enqueue($"resize {new ProcessKey(request.ContainerId, request.ExecId)} {request.Columns}x{request.Rows}");
        return ValueTask.FromResult(new ResizePtyResponse());
    }

    protected override ValueTask<TResponse> UnimplementedAsync<TResponse>(ServerCallContext context)
    {
        calls.Enqueue($"{context.Method} (unimplemented)");
        return base.UnimplementedAsync<TResponse>(context);
    }

    // Queued output first, then the end once the process has exited: the agent's "empty data = end of stream".
    private async ValueTask<ReadStreamResponse> ReadAsync(ReadStreamRequest request, StdioStream stream, ServerCallContext context)
    {
        var chunk = await vm.OutputOf(new ProcessKey(request.ContainerId, request.ExecId), stream)
            .ReadAsync((int)request.MaxBytes, context.CancellationToken);
        return new ReadStreamResponse { Data = ByteString.CopyFrom(chunk) };
    }
}
