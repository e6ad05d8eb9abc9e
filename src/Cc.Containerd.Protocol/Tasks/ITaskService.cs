using Cc.Ttrpc;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Containerd.Protocol.Tasks;

/// <summary>
/// The containerd Task service (protocol.md §3.1): the 17 unary methods a shim serves, the same for
/// <c>containerd.task.v2.Task</c> and <c>containerd.task.v3.Task</c>. Handlers throw <see cref="TtrpcException"/> to
/// answer a status.
/// </summary>
public interface ITaskService
{
    ValueTask<StateResponse> StateAsync(StateRequest request, ServerCallContext context);

    ValueTask<CreateTaskResponse> CreateAsync(CreateTaskRequest request, ServerCallContext context);

    ValueTask<StartResponse> StartAsync(StartRequest request, ServerCallContext context);

    ValueTask<DeleteResponse> DeleteAsync(DeleteRequest request, ServerCallContext context);

    ValueTask<PidsResponse> PidsAsync(PidsRequest request, ServerCallContext context);

    ValueTask<Empty> PauseAsync(PauseRequest request, ServerCallContext context);

    ValueTask<Empty> ResumeAsync(ResumeRequest request, ServerCallContext context);

    ValueTask<Empty> CheckpointAsync(CheckpointTaskRequest request, ServerCallContext context);

    ValueTask<Empty> KillAsync(KillRequest request, ServerCallContext context);

    ValueTask<Empty> ExecAsync(ExecProcessRequest request, ServerCallContext context);

    ValueTask<Empty> ResizePtyAsync(ResizePtyRequest request, ServerCallContext context);

    ValueTask<Empty> CloseIOAsync(CloseIORequest request, ServerCallContext context);

    ValueTask<Empty> UpdateAsync(UpdateTaskRequest request, ServerCallContext context);

    ValueTask<WaitResponse> WaitAsync(WaitRequest request, ServerCallContext context);

    ValueTask<StatsResponse> StatsAsync(StatsRequest request, ServerCallContext context);

    ValueTask<ConnectResponse> ConnectAsync(ConnectRequest request, ServerCallContext context);

    ValueTask<Empty> ShutdownAsync(ShutdownRequest request, ServerCallContext context);
}
