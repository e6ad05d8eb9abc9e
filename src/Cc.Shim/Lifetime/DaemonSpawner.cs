using System.Net.Sockets;
using Cc.Hypervisor.Processes;
using Cc.Shim.Sandbox;

namespace Cc.Shim.Lifetime;

/// <summary>
/// Starts the long-running shim daemon exactly as containerd needs it detached (protocol.md §2.5, pitfall 2): through
/// <see cref="ChildSpawner"/> into a new process group, <c>/dev/null</c> on fds 0/1/2 so containerd's CombinedOutput of
/// <c>start</c> sees EOF when <c>start</c> exits, the already-listening socket as fd 3 and the host's mount namespace as
/// fd 4, in a mount namespace of its own (<see cref="HostMountNamespace"/>: the pod's mounts never enter the host's
/// table). No setsid and no parent-death signal: the daemon outlives both <c>start</c> and containerd. The daemon marks
/// fds 3 and 4 close-on-exec as soon as it runs (<see cref="ShimEntry.DaemonAsync"/>), so none of its own children
/// inherits them.
/// </summary>
public static class DaemonSpawner
{
    /// <summary>The fd number the daemon finds its listening socket on.</summary>
    public const int ListenerFd = 3;

    /// <summary>Spawns <paramref name="executable"/> and returns its pid. <paramref name="listener"/> may be null (tests).
    /// <c>start</c> exits right after; the daemon is then re-parented and nobody here waits for it.</summary>
    public static int Spawn(string executable, IReadOnlyList<string> args, Socket? listener,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        return HostMountNamespace.SpawnInPrivateNamespace(hostNamespace =>
        {
            var hostFd = new InheritedFd(HostMountNamespace.InheritedFd, hostNamespace);
            using var daemon = ChildSpawner.Spawn(new SpawnOptions
            {
                Executable = executable,
                Arguments = args,
                Environment = environment,
                Fds = listener is null ? [hostFd] : [new InheritedFd(ListenerFd, listener.SafeHandle), hostFd],
            });
            return daemon.Pid;
        });
    }
}
