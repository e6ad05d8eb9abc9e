using System.Net.Sockets;
using Cc.Shim.Native;

namespace Cc.Shim.Lifetime;

/// <summary>
/// Starts the long-running shim daemon exactly as containerd needs it detached (protocol.md §2.5, pitfall 2):
/// posix_spawn (not Process.Start, which can neither set a process group nor pass an extra fd) into a new process
/// group, <c>/dev/null</c> on fds 0/1/2 so containerd's CombinedOutput of <c>start</c> sees EOF when <c>start</c> exits,
/// and the already-listening socket as fd 3. No setsid and no parent-death signal: the daemon outlives both
/// <c>start</c> and containerd.
/// </summary>
public static class DaemonSpawner
{
    /// <summary>The fd number the daemon finds its listening socket on.</summary>
    public const int ListenerFd = ChildSpawner.FirstInheritedFd;

    /// <summary>Spawns <paramref name="executable"/> and returns its pid. <paramref name="listener"/> may be null (tests).</summary>
    public static int Spawn(string executable, IReadOnlyList<string> args, Socket? listener,
        IReadOnlyDictionary<string, string>? environment = null) =>
        ChildSpawner.Spawn(executable, args, environment ?? CurrentEnvironment(),
            listener is null ? [] : [checked((int)listener.Handle)]);

    private static Dictionary<string, string> CurrentEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            result[(string)entry.Key] = (string?)entry.Value ?? "";
        }
        return result;
    }
}
