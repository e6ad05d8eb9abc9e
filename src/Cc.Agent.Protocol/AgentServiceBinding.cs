using Cc.Agent.Protocol.V1;
using Cc.Ttrpc;

namespace Cc.Agent.Protocol;

// Static dispatch table for IAgentService: one entry per RPC, built once, no reflection.
public static class AgentServiceBinding
{
    public const string ServiceName = "cc.agent.v1.Agent";

    public static ServiceDefinition Bind(IAgentService service, string name = ServiceName)
    {
        ArgumentNullException.ThrowIfNull(service);
        return ServiceDefinition.CreateBuilder(name)
            .AddUnary<CheckRequest, CheckResponse>("Check", CheckRequest.Parser, service.CheckAsync)
            .AddUnary<GetGuestDetailsRequest, GetGuestDetailsResponse>("GetGuestDetails", GetGuestDetailsRequest.Parser, service.GetGuestDetailsAsync)
            .AddUnary<CreateSandboxRequest, CreateSandboxResponse>("CreateSandbox", CreateSandboxRequest.Parser, service.CreateSandboxAsync)
            .AddUnary<SetTimeRequest, SetTimeResponse>("SetTime", SetTimeRequest.Parser, service.SetTimeAsync)
            .AddUnary<DestroySandboxRequest, DestroySandboxResponse>("DestroySandbox", DestroySandboxRequest.Parser, service.DestroySandboxAsync)
            .AddUnary<CreateContainerRequest, CreateContainerResponse>("CreateContainer", CreateContainerRequest.Parser, service.CreateContainerAsync)
            .AddUnary<StartContainerRequest, StartContainerResponse>("StartContainer", StartContainerRequest.Parser, service.StartContainerAsync)
            .AddUnary<ExecProcessRequest, ExecProcessResponse>("ExecProcess", ExecProcessRequest.Parser, service.ExecProcessAsync)
            .AddUnary<SignalProcessRequest, SignalProcessResponse>("SignalProcess", SignalProcessRequest.Parser, service.SignalProcessAsync)
            .AddUnary<WaitProcessRequest, WaitProcessResponse>("WaitProcess", WaitProcessRequest.Parser, service.WaitProcessAsync)
            .AddUnary<ListProcessesRequest, ListProcessesResponse>("ListProcesses", ListProcessesRequest.Parser, service.ListProcessesAsync)
            .AddUnary<PauseContainerRequest, PauseContainerResponse>("PauseContainer", PauseContainerRequest.Parser, service.PauseContainerAsync)
            .AddUnary<ResumeContainerRequest, ResumeContainerResponse>("ResumeContainer", ResumeContainerRequest.Parser, service.ResumeContainerAsync)
            .AddUnary<StatsContainerRequest, StatsContainerResponse>("StatsContainer", StatsContainerRequest.Parser, service.StatsContainerAsync)
            .AddUnary<UpdateContainerRequest, UpdateContainerResponse>("UpdateContainer", UpdateContainerRequest.Parser, service.UpdateContainerAsync)
            .AddUnary<RemoveContainerRequest, RemoveContainerResponse>("RemoveContainer", RemoveContainerRequest.Parser, service.RemoveContainerAsync)
            .AddUnary<ReadStreamRequest, ReadStreamResponse>("ReadStdout", ReadStreamRequest.Parser, service.ReadStdoutAsync)
            .AddUnary<ReadStreamRequest, ReadStreamResponse>("ReadStderr", ReadStreamRequest.Parser, service.ReadStderrAsync)
            .AddUnary<WriteStdinRequest, WriteStdinResponse>("WriteStdin", WriteStdinRequest.Parser, service.WriteStdinAsync)
            .AddUnary<CloseStdinRequest, CloseStdinResponse>("CloseStdin", CloseStdinRequest.Parser, service.CloseStdinAsync)
            .AddUnary<ResizePtyRequest, ResizePtyResponse>("ResizePty", ResizePtyRequest.Parser, service.ResizePtyAsync)
            .AddUnary<GetOomEventRequest, GetOomEventResponse>("GetOomEvent", GetOomEventRequest.Parser, service.GetOomEventAsync)
            .Build();
    }
}
