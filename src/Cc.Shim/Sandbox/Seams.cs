namespace Cc.Shim.Sandbox;

// The engine seams of the domain (style.md habit 7): small, role-named, each with a fake in the tests. The VM is
// Cc.Hypervisor's QEMU driver behind QemuVmLauncher; the guest agent is no hand-written seam but the generated
// IAgentClient, used through AgentGuest (its fake is a server: tests/Cc.Shim.Tests/Fakes/FakeAgent.cs).

/// <summary>Boots the pod's VM. One call per sandbox.</summary>
public interface IVmLauncher
{
    Task<ISandboxVm> LaunchAsync(VmLaunchRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// What the sandbox needs from its VM launch: ids for names and logs, the host directories (state, share), and the pod
/// itself (<see cref="SandboxSpec"/>: hostname, network namespace, sysctls, sizing), read from the first container.
/// </summary>
public sealed record VmLaunchRequest(string Namespace, string SandboxId, string RunDirectory, string SharedDirectory,
    SandboxSpec Spec);

/// <summary>A running VM with a connected agent.</summary>
public interface ISandboxVm : IAsyncDisposable
{
    /// <summary>The VMM's host pid: what Create/Start/Pids report, as kata does.</summary>
    int Pid { get; }

    /// <summary>Completes when the VM has ended, for whatever reason.</summary>
    Task Exited { get; }

    /// <summary>
    /// The guest agent: the generated client of api/agent/v1/agent.proto with the deadlines, error mapping and exec
    /// bridge the sandbox needs. Not an interface of its own, so that a new rpc costs no seam: tests serve a fake agent
    /// (a subclass of the generated AgentServiceBase) to a real <see cref="AgentGuest"/>.
    /// </summary>
    AgentGuest Agent { get; }

    /// <summary>Stops the guest and the VMM; idempotent, bounded by the token.</summary>
    Task StopAsync(CancellationToken cancellationToken);

    /// <summary>Live resizing (docs/hotplug.md), or null when the VM's size is fixed (no headroom, microvm).</summary>
    IVmResize? Resize => null;
}

/// <summary>A VM's size: guest RAM (boot plus plugged) and vCPUs.</summary>
public sealed record VmSize(int MemoryMiB, int Vcpus)
{
    public override string ToString() => $"{MemoryMiB} MiB, {Vcpus} vCPUs";
}

/// <summary>
/// Grows or shrinks a running VM within <see cref="Boot"/>..<see cref="Max"/> and waits until the guest has taken (or
/// released) what changed: hot-plugged vCPUs online, plugged memory in the guest. Returns the size reached, which a
/// shrink the guest could not finish leaves above the target. Not reentrant: <see cref="SandboxVm"/> serialises calls.
/// </summary>
public interface IVmResize
{
    VmSize Boot { get; }
    VmSize Max { get; }
    VmSize Current { get; }

    Task<VmSize> ResizeAsync(VmSize target, CancellationToken cancellationToken);
}

/// <summary>The streams of a process inside the guest.</summary>
public enum StdioStream
{
    Stdout,
    Stderr,
}

/// <summary>
/// Stdio of guest processes, as the host's pumps (Io/ProcessIo) use it; <see cref="AgentGuest"/> implements it. Reads are
/// pulled by the host, which is the back-pressure: nothing is read in the guest faster than the host writes it out.
/// </summary>
public interface IGuestStdio
{
    /// <summary>The most one read may ask for: the agent's limit for <c>max_bytes</c> (agent.proto ReadStreamRequest).</summary>
    const int MaxReadBytes = 1024 * 1024;

    /// <summary>
    /// Reads up to <paramref name="maxBytes"/> bytes (at most <see cref="MaxReadBytes"/>); empty = end of stream. The
    /// memory returned belongs to the caller: nothing writes it again.
    /// </summary>
    Task<ReadOnlyMemory<byte>> ReadAsync(ProcessKey process, StdioStream stream, int maxBytes, CancellationToken cancellationToken);

    Task WriteStdinAsync(ProcessKey process, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    Task CloseStdinAsync(ProcessKey process, CancellationToken cancellationToken);

    Task ResizePtyAsync(ProcessKey process, uint columns, uint rows, CancellationToken cancellationToken);
}

/// <summary>What the guest needs to create a container: where its rootfs is, and its spec with host paths made guest paths.</summary>
public sealed record SharedContainer(string GuestRootfs, ReadOnlyMemory<byte> Spec);

/// <summary>Puts a container's root filesystem and bind-mount sources where the guest sees them, and takes them away again.</summary>
public interface IRootfsProvider
{
    /// <summary>
    /// Mounts (or binds) the rootfs and the sources of the spec's bind mounts under the shared directory; returns the
    /// guest path of the rootfs and the spec rewritten to name the shared copies.
    /// </summary>
    Task<SharedContainer> PrepareAsync(string containerId, string bundle, IReadOnlyList<RootfsMount> mounts,
        ReadOnlyMemory<byte> spec, string sharedDirectory, CancellationToken cancellationToken);

    /// <summary>Unmounts and removes what <see cref="PrepareAsync"/> made; idempotent.</summary>
    Task ReleaseAsync(string containerId, string sharedDirectory, CancellationToken cancellationToken);
}
