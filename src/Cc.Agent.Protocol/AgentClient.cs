using Cc.Agent.Protocol.V1;
using Cc.Ttrpc;

namespace Cc.Agent.Protocol;

// Typed calls of the agent API over a TtrpcClient (the shim's side). Failures arrive as
// TtrpcException with the agent's status code. Long-polls (WaitProcess, ReadStdout, ReadStderr, GetOomEvent)
// should be called without a timeout; they stay outstanding for the life of the process.
public sealed class AgentClient(TtrpcClient client, string serviceName = AgentServiceBinding.ServiceName)
{
    public TtrpcClient Connection { get; } = client;

    public Task<CheckResponse> CheckAsync(CheckRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "Check", request, CheckResponse.Parser, options);

    public Task<GetGuestDetailsResponse> GetGuestDetailsAsync(GetGuestDetailsRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "GetGuestDetails", request, GetGuestDetailsResponse.Parser, options);

    public Task<CreateSandboxResponse> CreateSandboxAsync(CreateSandboxRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "CreateSandbox", request, CreateSandboxResponse.Parser, options);

    public Task<SetTimeResponse> SetTimeAsync(SetTimeRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "SetTime", request, SetTimeResponse.Parser, options);

    public Task<DestroySandboxResponse> DestroySandboxAsync(DestroySandboxRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "DestroySandbox", request, DestroySandboxResponse.Parser, options);

    public Task<CreateContainerResponse> CreateContainerAsync(CreateContainerRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "CreateContainer", request, CreateContainerResponse.Parser, options);

    public Task<StartContainerResponse> StartContainerAsync(StartContainerRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "StartContainer", request, StartContainerResponse.Parser, options);

    public Task<ExecProcessResponse> ExecProcessAsync(ExecProcessRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "ExecProcess", request, ExecProcessResponse.Parser, options);

    public Task<SignalProcessResponse> SignalProcessAsync(SignalProcessRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "SignalProcess", request, SignalProcessResponse.Parser, options);

    public Task<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "WaitProcess", request, WaitProcessResponse.Parser, options);

    public Task<ListProcessesResponse> ListProcessesAsync(ListProcessesRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "ListProcesses", request, ListProcessesResponse.Parser, options);

    public Task<PauseContainerResponse> PauseContainerAsync(PauseContainerRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "PauseContainer", request, PauseContainerResponse.Parser, options);

    public Task<ResumeContainerResponse> ResumeContainerAsync(ResumeContainerRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "ResumeContainer", request, ResumeContainerResponse.Parser, options);

    public Task<StatsContainerResponse> StatsContainerAsync(StatsContainerRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "StatsContainer", request, StatsContainerResponse.Parser, options);

    public Task<UpdateContainerResponse> UpdateContainerAsync(UpdateContainerRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "UpdateContainer", request, UpdateContainerResponse.Parser, options);

    public Task<RemoveContainerResponse> RemoveContainerAsync(RemoveContainerRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "RemoveContainer", request, RemoveContainerResponse.Parser, options);

    public Task<ReadStreamResponse> ReadStdoutAsync(ReadStreamRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "ReadStdout", request, ReadStreamResponse.Parser, options);

    public Task<ReadStreamResponse> ReadStderrAsync(ReadStreamRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "ReadStderr", request, ReadStreamResponse.Parser, options);

    public Task<WriteStdinResponse> WriteStdinAsync(WriteStdinRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "WriteStdin", request, WriteStdinResponse.Parser, options);

    public Task<CloseStdinResponse> CloseStdinAsync(CloseStdinRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "CloseStdin", request, CloseStdinResponse.Parser, options);

    public Task<ResizePtyResponse> ResizePtyAsync(ResizePtyRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "ResizePty", request, ResizePtyResponse.Parser, options);

    public Task<GetOomEventResponse> GetOomEventAsync(GetOomEventRequest request, CallOptions options = default) =>
        Connection.UnaryAsync(serviceName, "GetOomEvent", request, GetOomEventResponse.Parser, options);
}
