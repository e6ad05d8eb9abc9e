using Cc.Ttrpc;

namespace Cc.Containerd.Protocol.Tasks;

// The generated binding of containerd.task.v2.Task (api/containerd/runtime/task/v2/shim.proto), plus the v3 name.
public static partial class TaskServiceBinding
{
    /// <summary>The service name containerd 1.6, 1.7 and 2.x dial for version-2 shims.</summary>
    public const string V2ServiceName = ServiceName;

    /// <summary>
    /// The service name containerd 2.x dials when a shim announces bootstrap version 3. Its rpcs and messages are v2's
    /// (api/containerd/runtime/task/v3/shim.proto), so the v2 binding serves it under this name.
    /// </summary>
    public const string V3ServiceName = "containerd.task.v3.Task";

    /// <summary>Both names a shim registers: the messages are identical, so one implementation serves both.</summary>
    public static IReadOnlyList<string> ServiceNames { get; } = [V2ServiceName, V3ServiceName];

    /// <summary>Registers <paramref name="impl"/> under every name in <see cref="ServiceNames"/>.</summary>
    public static void RegisterAll(TtrpcServer server, ITaskService impl)
    {
        foreach (var name in ServiceNames)
        {
            server.Register(Bind(impl, name));
        }
    }
}
