using System.Collections.Concurrent;
using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Ttrpc;

namespace Cc.Shim.Tests.Fakes;

/// <summary>
/// An agent that never answers (a hung guest): every call waits until its own deadline (<c>timeout_nano</c>) or the
/// connection ends. Records, per method, the deadline the call arrived with and whether the agent saw it cancelled.
/// </summary>
public sealed class HungAgent : IAgentService
{
    public ConcurrentDictionary<string, DateTimeOffset?> Deadlines { get; } = new();

    /// <summary>Completes with the method's name when the agent's handler saw its call's token fire.</summary>
    public ConcurrentDictionary<string, TaskCompletionSource> Cancelled { get; } = new();

    public TaskCompletionSource CancelledOf(string method) =>
        Cancelled.GetOrAdd(method, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private async ValueTask<T> Hang<T>(ServerCallContext context)
    {
        Deadlines[context.Method] = context.Deadline;
        try
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }
        finally
        {
            CancelledOf(context.Method).TrySetResult();
        }
        throw new InvalidOperationException("unreachable");
    }

    public ValueTask<CheckResponse> CheckAsync(CheckRequest request, ServerCallContext context) => Hang<CheckResponse>(context);
    public ValueTask<GetGuestDetailsResponse> GetGuestDetailsAsync(GetGuestDetailsRequest request, ServerCallContext context) => Hang<GetGuestDetailsResponse>(context);
    public ValueTask<CreateSandboxResponse> CreateSandboxAsync(CreateSandboxRequest request, ServerCallContext context) => Hang<CreateSandboxResponse>(context);
    public ValueTask<SetTimeResponse> SetTimeAsync(SetTimeRequest request, ServerCallContext context) => Hang<SetTimeResponse>(context);
    public ValueTask<DestroySandboxResponse> DestroySandboxAsync(DestroySandboxRequest request, ServerCallContext context) => Hang<DestroySandboxResponse>(context);
    public ValueTask<CreateContainerResponse> CreateContainerAsync(CreateContainerRequest request, ServerCallContext context) => Hang<CreateContainerResponse>(context);
    public ValueTask<StartContainerResponse> StartContainerAsync(StartContainerRequest request, ServerCallContext context) => Hang<StartContainerResponse>(context);
    public ValueTask<ExecProcessResponse> ExecProcessAsync(ExecProcessRequest request, ServerCallContext context) => Hang<ExecProcessResponse>(context);
    public ValueTask<SignalProcessResponse> SignalProcessAsync(SignalProcessRequest request, ServerCallContext context) => Hang<SignalProcessResponse>(context);
    public ValueTask<WaitProcessResponse> WaitProcessAsync(WaitProcessRequest request, ServerCallContext context) => Hang<WaitProcessResponse>(context);
    public ValueTask<ListProcessesResponse> ListProcessesAsync(ListProcessesRequest request, ServerCallContext context) => Hang<ListProcessesResponse>(context);
    public ValueTask<PauseContainerResponse> PauseContainerAsync(PauseContainerRequest request, ServerCallContext context) => Hang<PauseContainerResponse>(context);
    public ValueTask<ResumeContainerResponse> ResumeContainerAsync(ResumeContainerRequest request, ServerCallContext context) => Hang<ResumeContainerResponse>(context);
    public ValueTask<StatsContainerResponse> StatsContainerAsync(StatsContainerRequest request, ServerCallContext context) => Hang<StatsContainerResponse>(context);
    public ValueTask<UpdateContainerResponse> UpdateContainerAsync(UpdateContainerRequest request, ServerCallContext context) => Hang<UpdateContainerResponse>(context);
    public ValueTask<RemoveContainerResponse> RemoveContainerAsync(RemoveContainerRequest request, ServerCallContext context) => Hang<RemoveContainerResponse>(context);
    public ValueTask<ReadStreamResponse> ReadStdoutAsync(ReadStreamRequest request, ServerCallContext context) => Hang<ReadStreamResponse>(context);
    public ValueTask<ReadStreamResponse> ReadStderrAsync(ReadStreamRequest request, ServerCallContext context) => Hang<ReadStreamResponse>(context);
    public ValueTask<WriteStdinResponse> WriteStdinAsync(WriteStdinRequest request, ServerCallContext context) => Hang<WriteStdinResponse>(context);
    public ValueTask<CloseStdinResponse> CloseStdinAsync(CloseStdinRequest request, ServerCallContext context) => Hang<CloseStdinResponse>(context);
    public ValueTask<ResizePtyResponse> ResizePtyAsync(ResizePtyRequest request, ServerCallContext context) => Hang<ResizePtyResponse>(context);
    public ValueTask<GetOomEventResponse> GetOomEventAsync(GetOomEventRequest request, ServerCallContext context) => Hang<GetOomEventResponse>(context);
}
