using Cc.Agent.Protocol.V1;
using Cc.Ttrpc;

namespace Cc.Agent.Protocol;

// The agent API (api/agent/v1/agent.proto, service cc.agent.v1.Agent) as the agent implements it.
// One method per RPC; semantics in docs/agent-api.md. Throw TtrpcException to return a status.
public interface IAgentService
{
    ValueTask<CheckResponse> CheckAsync(CheckRequest request, ServerCallContext context);

    ValueTask<GetGuestDetailsResponse> GetGuestDetailsAsync(GetGuestDetailsRequest request, ServerCallContext context);

    ValueTask<CreateSandboxResponse> CreateSandboxAsync(CreateSandboxRequest request, ServerCallContext context);

    ValueTask<SetTimeResponse> SetTimeAsync(SetTimeRequest request, ServerCallContext context);

    ValueTask<DestroySandboxResponse> DestroySandboxAsync(DestroySandboxRequest request, ServerCallContext context);

    ValueTask<CreateContainerResponse> CreateContainerAsync(CreateContainerRequest request, ServerCallContext context);

    ValueTask<StartContainerResponse> StartContainerAsync(StartContainerRequest request, ServerCallContext context);

    ValueTask<ExecProcessResponse> ExecProcessAsync(ExecProcessRequest request, ServerCallContext context);

    ValueTask<SignalProcessResponse> SignalProcessAsync(SignalProcessRequest request, ServerCallContext context);

    ValueTask<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, ServerCallContext context);

    ValueTask<ListProcessesResponse> ListProcessesAsync(ListProcessesRequest request, ServerCallContext context);

    ValueTask<PauseContainerResponse> PauseContainerAsync(PauseContainerRequest request, ServerCallContext context);

    ValueTask<ResumeContainerResponse> ResumeContainerAsync(ResumeContainerRequest request, ServerCallContext context);

    ValueTask<StatsContainerResponse> StatsContainerAsync(StatsContainerRequest request, ServerCallContext context);

    ValueTask<UpdateContainerResponse> UpdateContainerAsync(UpdateContainerRequest request, ServerCallContext context);

    ValueTask<RemoveContainerResponse> RemoveContainerAsync(RemoveContainerRequest request, ServerCallContext context);

    ValueTask<ReadStreamResponse> ReadStdoutAsync(ReadStreamRequest request, ServerCallContext context);

    ValueTask<ReadStreamResponse> ReadStderrAsync(ReadStreamRequest request, ServerCallContext context);

    ValueTask<WriteStdinResponse> WriteStdinAsync(WriteStdinRequest request, ServerCallContext context);

    ValueTask<CloseStdinResponse> CloseStdinAsync(CloseStdinRequest request, ServerCallContext context);

    ValueTask<ResizePtyResponse> ResizePtyAsync(ResizePtyRequest request, ServerCallContext context);

    ValueTask<GetOomEventResponse> GetOomEventAsync(GetOomEventRequest request, ServerCallContext context);
}
