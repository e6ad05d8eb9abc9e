using Cc.Agent.Containers;
using Cc.Agent.Guest;
using Cc.Agent.Logging;
using Cc.Agent.Network;
using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Ttrpc;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Service;

// The ttrpc face of the agent: translates requests, calls the domain (ContainerManager,
// GuestSystem), translates back. Domain errors become status codes in one place (Guard); anything
// unexpected becomes Internal with its message, and the agent keeps serving.
public sealed partial class AgentService(ContainerManager containers, GuestSystem guest, AgentOptions options,
    ILoggerFactory loggerFactory) : IAgentService
{
    private readonly ILogger _logger = loggerFactory.CreateLogger("Cc.Agent.Service");
    private readonly GuestNetwork _network = GuestNetwork.ForThisProcess(loggerFactory.CreateLogger("Cc.Agent.Network"));
    private readonly PortForwards _forwards = new(loggerFactory.CreateLogger("Cc.Agent.PortForward"));

    public ValueTask<CheckResponse> CheckAsync(CheckRequest request, ServerCallContext context)
    {
        var ready = guest.Ready;
        if (ready)
        {
            BootTimeline.Mark(BootTimeline.FirstCheck);
        }
        return ValueTask.FromResult(new CheckResponse { Ready = ready });
    }

    private async Task AwaitDeferredModulesAsync(CancellationToken cancellationToken)
    {
        await guest.DeferredModulesLoaded.WaitAsync(cancellationToken);
        BootTimeline.Mark(BootTimeline.DeferredModulesAwaited);
    }

    public ValueTask<GetGuestDetailsResponse> GetGuestDetailsAsync(GetGuestDetailsRequest request, ServerCallContext context)
    {
        var details = new GetGuestDetailsResponse
        {
            AgentVersion = options.AgentVersion,
            KernelRelease = GuestSystem.KernelRelease(),
            Ready = guest.Ready,
            Time = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            SharedMounted = guest.SharedMounted,
            SharedPath = options.SharedDirectory,
        };
        foreach (var (step, seconds) in BootTimeline.Steps())
        {
            details.BootTimeline.Add(new BootStep { Name = step, Seconds = seconds });
        }
        return ValueTask.FromResult(details);
    }

    public ValueTask<CreateSandboxResponse> CreateSandboxAsync(CreateSandboxRequest request, ServerCallContext context) =>
        Guard(nameof(CreateSandboxAsync), async () =>
        {
            if (request.HostTime is not null)
            {
                guest.SetClock(request.HostTime.ToDateTimeOffset());
            }

            if (request.Hostname.Length > 0)
            {
                guest.SetHostname(request.Hostname);
            }

            guest.AddEntropy(request.Entropy.Span);

            // A clone of a template booted with cc.share=late: the pod's share is mounted now, after the restore.
            guest.EnsureSharedMounted(options.SharedDirectory);

            // After every module loaded (virtio_net is loaded after ready); the guest's root network namespace is the pod's.
            await AwaitDeferredModulesAsync(context.CancellationToken);
            await _network.ApplyAsync(request.Network, request.Hostname, context.CancellationToken);

            // The pod's network sysctls go to the guest's root network namespace, the pod's network
            // (after the interfaces got their names: net.ipv4.conf.<if>.* names them); the others stay
            // in the sandbox container's spec for crun (docs/agent-api.md).
            foreach (var (name, value) in request.Sysctls.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (Runtime.PodNamespaces.IsNetworkSysctl(name))
                {
                    GuestSystem.SetNetworkSysctl(name, value);
                }
            }

            return new CreateSandboxResponse();
        });

    public ValueTask<SetTimeResponse> SetTimeAsync(SetTimeRequest request, ServerCallContext context) =>
        Guard(nameof(SetTimeAsync), () =>
        {
            guest.SetClock((request.HostTime ?? throw AgentErrorException.Invalid("host_time is not set")).ToDateTimeOffset());
            return Task.FromResult(new SetTimeResponse());
        });

    public ValueTask<DestroySandboxResponse> DestroySandboxAsync(DestroySandboxRequest request, ServerCallContext context) =>
        Guard(nameof(DestroySandboxAsync), async () =>
        {
            // Port forwards first: a connection to a container about to be killed would only see it reset.
            if (_forwards.CloseAll() is > 0 and var closed)
            {
                AgentLog.PortForwardsClosed(_logger, closed);
            }
            return new DestroySandboxResponse { RemovedContainers = await containers.RemoveAllAsync(context.CancellationToken) };
        });

    public ValueTask<CreateContainerResponse> CreateContainerAsync(CreateContainerRequest request, ServerCallContext context) =>
        Guard(nameof(CreateContainerAsync), async () =>
        {
            BootTimeline.Mark(BootTimeline.CreateReceived);
            var stdio = request.Stdio ?? new StdioOptions();
            var placement = new PodPlacement(request.PodRole switch
            {
                Protocol.V1.PodRole.None => Containers.PodRole.None,
                Protocol.V1.PodRole.Sandbox => Containers.PodRole.Sandbox,
                Protocol.V1.PodRole.Container => Containers.PodRole.Container,
                _ => throw AgentErrorException.Invalid($"unknown pod_role {(int)request.PodRole}"),
            }, request.SandboxContainerId);
            // A workload that could mount overlay, make a bridge or open a device at once gets the guest with every
            // module loaded; one that cannot is created while they load (DeferredModuleNeed).
            if (Runtime.DeferredModuleNeed.NeedsDeferredModules(request.OciSpecJson.Memory))
            {
                await AwaitDeferredModulesAsync(context.CancellationToken);
            }
            else
            {
                BootTimeline.Mark(BootTimeline.CreateWithoutDeferredModules);
            }
            var pid = await containers.CreateAsync(request.ContainerId, request.OciSpecJson.Memory, request.RootfsPath,
                stdio.Terminal, stdio.Stdin, placement, context.CancellationToken);
            BootTimeline.Mark(BootTimeline.CreateAnswered);
            return new CreateContainerResponse { Pid = pid };
        });

    public ValueTask<StartContainerResponse> StartContainerAsync(StartContainerRequest request, ServerCallContext context) =>
        Guard(nameof(StartContainerAsync), async () =>
        {
            BootTimeline.Mark(BootTimeline.StartReceived);
            var pid = await containers.StartAsync(request.ContainerId, context.CancellationToken);
            BootTimeline.Mark(BootTimeline.StartAnswered);
            return new StartContainerResponse { Pid = pid };
        });

    public ValueTask<ExecProcessResponse> ExecProcessAsync(ExecProcessRequest request, ServerCallContext context) =>
        Guard(nameof(ExecProcessAsync), async () =>
        {
            var stdio = request.Stdio ?? new StdioOptions();
            var pid = await containers.ExecAsync(request.ContainerId, request.ExecId, request.OciProcessJson.Memory,
                stdio.Terminal, stdio.Stdin, context.CancellationToken);
            return new ExecProcessResponse { Pid = pid };
        });

    public ValueTask<DeleteProcessResponse> DeleteProcessAsync(DeleteProcessRequest request, ServerCallContext context) =>
        Guard(nameof(DeleteProcessAsync), () =>
        {
            containers.DeleteExec(request.ContainerId, request.ExecId);
            return Task.FromResult(new DeleteProcessResponse());
        });

    public ValueTask<SignalProcessResponse> SignalProcessAsync(SignalProcessRequest request, ServerCallContext context) =>
        Guard(nameof(SignalProcessAsync), async () =>
        {
            await containers.SignalAsync(request.ContainerId, request.ExecId, request.Signal, request.All,
                context.CancellationToken);
            return new SignalProcessResponse();
        });

    public ValueTask<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, ServerCallContext context) =>
        Guard(nameof(WaitProcessAsync), async () =>
        {
            var (status, pid, oomKills) = await containers.WaitAsync(request.ContainerId, request.ExecId, context.CancellationToken);
            return new WaitProcessResponse
            {
                ExitStatus = (uint)status.Code,
                ExitedAt = Timestamp.FromDateTimeOffset(status.ExitedAt),
                Pid = pid,
                OomKills = oomKills,
            };
        });

    public ValueTask<ListProcessesResponse> ListProcessesAsync(ListProcessesRequest request, ServerCallContext context) =>
        Guard(nameof(ListProcessesAsync), async () =>
        {
            var response = new ListProcessesResponse();
            foreach (var entry in await containers.ListProcessesAsync(request.ContainerId, context.CancellationToken))
            {
                response.Processes.Add(new ProcessEntry { Pid = entry.Pid, CommandLine = entry.CommandLine, ExecId = entry.ExecId });
            }

            return response;
        });

    public ValueTask<PauseContainerResponse> PauseContainerAsync(PauseContainerRequest request, ServerCallContext context) =>
        Guard(nameof(PauseContainerAsync), async () =>
        {
            await containers.PauseAsync(request.ContainerId, context.CancellationToken);
            return new PauseContainerResponse();
        });

    public ValueTask<ResumeContainerResponse> ResumeContainerAsync(ResumeContainerRequest request, ServerCallContext context) =>
        Guard(nameof(ResumeContainerAsync), async () =>
        {
            await containers.ResumeAsync(request.ContainerId, context.CancellationToken);
            return new ResumeContainerResponse();
        });

    public ValueTask<StatsContainerResponse> StatsContainerAsync(StatsContainerRequest request, ServerCallContext context) =>
        Guard(nameof(StatsContainerAsync), () =>
        {
            var stats = containers.Stats(request.ContainerId);
            return Task.FromResult(new StatsContainerResponse
            {
                CpuUsageUsec = stats.CpuUsageUsec,
                CpuUserUsec = stats.CpuUserUsec,
                CpuSystemUsec = stats.CpuSystemUsec,
                MemoryCurrent = stats.MemoryCurrent,
                MemoryMax = stats.MemoryMax,
                PidsCurrent = stats.PidsCurrent,
                PidsMax = stats.PidsMax,
                MemorySwapCurrent = stats.SwapCurrent,
                MemorySwapMax = stats.SwapMax,
                CpuStat = { stats.CpuStat.ToDictionary() },
                MemoryStat = { stats.MemoryStat.ToDictionary() },
                MemoryEvents = { stats.MemoryEvents.ToDictionary() },
            });
        });

    public ValueTask<UpdateContainerResponse> UpdateContainerAsync(UpdateContainerRequest request, ServerCallContext context) =>
        Guard(nameof(UpdateContainerAsync), async () =>
        {
            await containers.UpdateAsync(request.ContainerId, request.ResourcesJson.Memory, context.CancellationToken);
            return new UpdateContainerResponse();
        });

    public ValueTask<OnlineCpusResponse> OnlineCpusAsync(OnlineCpusRequest request, ServerCallContext context) =>
        Guard(nameof(OnlineCpusAsync), async () => new OnlineCpusResponse
        {
            Online = (uint)await GuestCpus.OnlineAsync((int)request.Count, TimeSpan.FromMilliseconds(request.TimeoutMs),
                context.CancellationToken),
            MemTotalKib = GuestCpus.MemTotalKib(),
        });

    public ValueTask<GetOomEventResponse> GetOomEventAsync(GetOomEventRequest request, ServerCallContext context) =>
        Guard(nameof(GetOomEventAsync), async () =>
        {
            var kills = await containers.NextOomAsync(context.CancellationToken);
            return new GetOomEventResponse { ContainerId = kills.ContainerId, OomKills = kills.Count };
        });

    public ValueTask<RemoveContainerResponse> RemoveContainerAsync(RemoveContainerRequest request, ServerCallContext context) =>
        Guard(nameof(RemoveContainerAsync), async () =>
        {
            await containers.RemoveAsync(request.ContainerId, context.CancellationToken);
            return new RemoveContainerResponse();
        });

    public ValueTask<ReadStreamResponse> ReadStdoutAsync(ReadStreamRequest request, ServerCallContext context) =>
        ReadAsync(request, ContainerManager.OutputStream.Stdout, context);

    public ValueTask<ReadStreamResponse> ReadStderrAsync(ReadStreamRequest request, ServerCallContext context) =>
        ReadAsync(request, ContainerManager.OutputStream.Stderr, context);

    public ValueTask<WriteStdinResponse> WriteStdinAsync(WriteStdinRequest request, ServerCallContext context) =>
        Guard(nameof(WriteStdinAsync), async () => new WriteStdinResponse
        {
            Written = (uint)await containers.WriteStdinAsync(request.ContainerId, request.ExecId, request.Data.Memory,
                context.CancellationToken),
        });

    public ValueTask<CloseStdinResponse> CloseStdinAsync(CloseStdinRequest request, ServerCallContext context) =>
        Guard(nameof(CloseStdinAsync), async () =>
        {
            await containers.CloseStdinAsync(request.ContainerId, request.ExecId, context.CancellationToken);
            return new CloseStdinResponse();
        });

    public ValueTask<ResizePtyResponse> ResizePtyAsync(ResizePtyRequest request, ServerCallContext context) =>
        Guard(nameof(ResizePtyAsync), () =>
        {
            containers.ResizePty(request.ContainerId, request.ExecId, request.Columns, request.Rows);
            return Task.FromResult(new ResizePtyResponse());
        });

    public ValueTask<OpenPortForwardResponse> OpenPortForwardAsync(OpenPortForwardRequest request, ServerCallContext context) =>
        Guard(nameof(OpenPortForwardAsync), async () =>
            new OpenPortForwardResponse { StreamId = await _forwards.OpenAsync(request.Port, context.CancellationToken) });

    public ValueTask<ReadPortForwardResponse> ReadPortForwardAsync(ReadPortForwardRequest request, ServerCallContext context) =>
        Guard(nameof(ReadPortForwardAsync), async () =>
        {
            var data = await _forwards.ReadAsync(request.StreamId, (int)Math.Min(request.MaxBytes, int.MaxValue), context.CancellationToken);
            // A fresh buffer per read, never reused: wrapped without a copy.
            return new ReadPortForwardResponse { Data = UnsafeByteOperations.UnsafeWrap(data) };
        });

    public ValueTask<WritePortForwardResponse> WritePortForwardAsync(WritePortForwardRequest request, ServerCallContext context) =>
        Guard(nameof(WritePortForwardAsync), async () => new WritePortForwardResponse
        {
            Written = (uint)await _forwards.WriteAsync(request.StreamId, request.Data.Memory, context.CancellationToken),
        });

    public ValueTask<ClosePortForwardResponse> ClosePortForwardAsync(ClosePortForwardRequest request, ServerCallContext context) =>
        Guard(nameof(ClosePortForwardAsync), () =>
        {
            _forwards.Close(request.StreamId, request.WriteOnly);
            return Task.FromResult(new ClosePortForwardResponse());
        });

    private ValueTask<ReadStreamResponse> ReadAsync(ReadStreamRequest request, ContainerManager.OutputStream stream,
        ServerCallContext context) =>
        Guard(stream == ContainerManager.OutputStream.Stdout ? nameof(ReadStdoutAsync) : nameof(ReadStderrAsync), async () =>
        {
            var (data, source) = await containers.ReadAsync(request.ContainerId, request.ExecId, stream,
                (int)Math.Min(request.MaxBytes, int.MaxValue), context.CancellationToken);
            if (data.Length > 0)
            {
                BootTimeline.Mark(BootTimeline.FirstOutput);
            }
            // The pump does not reuse a chunk it has handed out until it is given back, which happens only once the
            // answer has been written (the server calls DataWritten then, or never): wrapped without a copy.
            return new ReadStreamResponse { Data = UnsafeByteOperations.UnsafeWrap(data), DataWritten = () => source.Return(data) };
        });
}
