using Cc.Ttrpc;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Containerd.Protocol.Tasks;

/// <summary>Static dispatch table for <see cref="ITaskService"/>; no reflection.</summary>
public static class TaskServiceBinding
{
    /// <summary>The service name containerd 1.6, 1.7 and 2.x dial for version-2 shims.</summary>
    public const string V2ServiceName = "containerd.task.v2.Task";

    /// <summary>The service name containerd 2.x dials when a shim announces bootstrap version 3.</summary>
    public const string V3ServiceName = "containerd.task.v3.Task";

    /// <summary>Both names a shim registers: the messages are identical, so one implementation serves both.</summary>
    public static IReadOnlyList<string> ServiceNames { get; } = [V2ServiceName, V3ServiceName];

    public static ServiceDefinition Bind(ITaskService impl, string serviceName = V2ServiceName)
    {
        ArgumentNullException.ThrowIfNull(impl);
        return ServiceDefinition.CreateBuilder(serviceName)
            .AddUnary<StateRequest, StateResponse>("State", StateRequest.Parser, impl.StateAsync)
            .AddUnary<CreateTaskRequest, CreateTaskResponse>("Create", CreateTaskRequest.Parser, impl.CreateAsync)
            .AddUnary<StartRequest, StartResponse>("Start", StartRequest.Parser, impl.StartAsync)
            .AddUnary<DeleteRequest, DeleteResponse>("Delete", DeleteRequest.Parser, impl.DeleteAsync)
            .AddUnary<PidsRequest, PidsResponse>("Pids", PidsRequest.Parser, impl.PidsAsync)
            .AddUnary<PauseRequest, Empty>("Pause", PauseRequest.Parser, impl.PauseAsync)
            .AddUnary<ResumeRequest, Empty>("Resume", ResumeRequest.Parser, impl.ResumeAsync)
            .AddUnary<CheckpointTaskRequest, Empty>("Checkpoint", CheckpointTaskRequest.Parser, impl.CheckpointAsync)
            .AddUnary<KillRequest, Empty>("Kill", KillRequest.Parser, impl.KillAsync)
            .AddUnary<ExecProcessRequest, Empty>("Exec", ExecProcessRequest.Parser, impl.ExecAsync)
            .AddUnary<ResizePtyRequest, Empty>("ResizePty", ResizePtyRequest.Parser, impl.ResizePtyAsync)
            .AddUnary<CloseIORequest, Empty>("CloseIO", CloseIORequest.Parser, impl.CloseIOAsync)
            .AddUnary<UpdateTaskRequest, Empty>("Update", UpdateTaskRequest.Parser, impl.UpdateAsync)
            .AddUnary<WaitRequest, WaitResponse>("Wait", WaitRequest.Parser, impl.WaitAsync)
            .AddUnary<StatsRequest, StatsResponse>("Stats", StatsRequest.Parser, impl.StatsAsync)
            .AddUnary<ConnectRequest, ConnectResponse>("Connect", ConnectRequest.Parser, impl.ConnectAsync)
            .AddUnary<ShutdownRequest, Empty>("Shutdown", ShutdownRequest.Parser, impl.ShutdownAsync)
            .Build();
    }

    /// <summary>Registers <paramref name="impl"/> under every name in <see cref="ServiceNames"/>.</summary>
    public static void RegisterAll(TtrpcServer server, ITaskService impl)
    {
        foreach (var name in ServiceNames)
        {
            server.Register(Bind(impl, name));
        }
    }
}
