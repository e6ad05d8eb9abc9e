using Cc.Ttrpc;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Containerd.Protocol.Tasks;

/// <summary>
/// A typed client of the Task service, as containerd would call it. The shim never calls it; tests and tools do.
/// </summary>
public sealed class TaskClient
{
    private readonly TtrpcClient _client;
    private readonly string _service;

    public TaskClient(TtrpcClient client, string serviceName = TaskServiceBinding.V2ServiceName)
    {
        _client = client;
        _service = serviceName;
    }

    public Task<StateResponse> StateAsync(StateRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "State", request, StateResponse.Parser, options);

    public Task<CreateTaskResponse> CreateAsync(CreateTaskRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Create", request, CreateTaskResponse.Parser, options);

    public Task<StartResponse> StartAsync(StartRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Start", request, StartResponse.Parser, options);

    public Task<DeleteResponse> DeleteAsync(DeleteRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Delete", request, DeleteResponse.Parser, options);

    public Task<PidsResponse> PidsAsync(PidsRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Pids", request, PidsResponse.Parser, options);

    public Task<Empty> PauseAsync(PauseRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Pause", request, Empty.Parser, options);

    public Task<Empty> ResumeAsync(ResumeRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Resume", request, Empty.Parser, options);

    public Task<Empty> CheckpointAsync(CheckpointTaskRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Checkpoint", request, Empty.Parser, options);

    public Task<Empty> KillAsync(KillRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Kill", request, Empty.Parser, options);

    public Task<Empty> ExecAsync(ExecProcessRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Exec", request, Empty.Parser, options);

    public Task<Empty> ResizePtyAsync(ResizePtyRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "ResizePty", request, Empty.Parser, options);

    public Task<Empty> CloseIOAsync(CloseIORequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "CloseIO", request, Empty.Parser, options);

    public Task<Empty> UpdateAsync(UpdateTaskRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Update", request, Empty.Parser, options);

    public Task<WaitResponse> WaitAsync(WaitRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Wait", request, WaitResponse.Parser, options);

    public Task<StatsResponse> StatsAsync(StatsRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Stats", request, StatsResponse.Parser, options);

    public Task<ConnectResponse> ConnectAsync(ConnectRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Connect", request, ConnectResponse.Parser, options);

    public Task<Empty> ShutdownAsync(ShutdownRequest request, CallOptions options = default) =>
        _client.UnaryAsync(_service, "Shutdown", request, Empty.Parser, options);
}
