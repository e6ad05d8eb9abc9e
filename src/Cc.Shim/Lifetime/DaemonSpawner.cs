using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
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
    public const int ListenerFd = 3;

    /// <summary>Spawns <paramref name="executable"/> and returns its pid. <paramref name="listener"/> may be null (tests).</summary>
    public static unsafe int Spawn(string executable, IReadOnlyList<string> args, Socket? listener,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var allocations = new List<IntPtr>();
        var fileActions = NativeMemory.AllocZeroed(LibC.SpawnStructBytes);
        var attr = NativeMemory.AllocZeroed(LibC.SpawnStructBytes);
        var sigset = NativeMemory.AllocZeroed(LibC.SigSetBytes);
        try
        {
            Check(LibC.posix_spawn_file_actions_init(fileActions), "posix_spawn_file_actions_init");
            Check(LibC.posix_spawnattr_init(attr), "posix_spawnattr_init");

            var devNull = Utf8(allocations, "/dev/null");
            Check(LibC.posix_spawn_file_actions_addopen(fileActions, 0, devNull, LibC.O_RDONLY, 0), "addopen stdin");
            Check(LibC.posix_spawn_file_actions_addopen(fileActions, 1, devNull, LibC.O_WRONLY, 0), "addopen stdout");
            Check(LibC.posix_spawn_file_actions_addopen(fileActions, 2, devNull, LibC.O_WRONLY, 0), "addopen stderr");
            if (listener is not null)
            {
                var fd = checked((int)listener.Handle);
                if (fd == ListenerFd)
                {
                    // dup2 onto itself would keep FD_CLOEXEC; clear it so the fd survives exec.
                    ClearCloseOnExec(fd);
                }
                else
                {
                    // The dup'ed fd 3 never has FD_CLOEXEC; the original keeps it and closes at exec.
                    Check(LibC.posix_spawn_file_actions_adddup2(fileActions, fd, ListenerFd), "adddup2 listener");
                }
            }

            // The .NET runtime blocks and handles signals of its own; the child starts with a clean mask and
            // default dispositions so a later exec of QEMU or a logger does not inherit ours.
            LibC.sigemptyset(sigset);
            Check(LibC.posix_spawnattr_setsigmask(attr, sigset), "setsigmask");
            for (var signal = 1; signal < 32; signal++)
            {
                if (signal is not 9 and not 19)
                {
                    LibC.sigaddset(sigset, signal);
                }
            }
            Check(LibC.posix_spawnattr_setsigdefault(attr, sigset), "setsigdefault");
            Check(LibC.posix_spawnattr_setpgroup(attr, 0), "setpgroup");
            Check(LibC.posix_spawnattr_setflags(attr,
                (short)(LibC.POSIX_SPAWN_SETPGROUP | LibC.POSIX_SPAWN_SETSIGMASK | LibC.POSIX_SPAWN_SETSIGDEF)), "setflags");

            var argv = StringArray(allocations, [executable, .. args]);
            var env = environment ?? CurrentEnvironment();
            var envp = StringArray(allocations, env.Select(kv => kv.Key + "=" + kv.Value).ToArray());
            var path = Utf8(allocations, executable);
            var rc = LibC.posix_spawn(out var pid, path, fileActions, attr, (byte**)argv, (byte**)envp);
            if (rc != 0)
            {
                throw new IOException($"posix_spawn {executable}: {LibC.ErrorText(rc)}");
            }
            return pid;
        }
        finally
        {
            LibC.posix_spawn_file_actions_destroy(fileActions);
            LibC.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fileActions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
            foreach (var allocation in allocations)
            {
                Marshal.FreeHGlobal(allocation);
            }
        }
    }

    public static void ClearCloseOnExec(int fd)
    {
        var flags = LibC.fcntl(fd, LibC.F_GETFD, 0);
        if (flags < 0 || LibC.fcntl(fd, LibC.F_SETFD, flags & ~LibC.FD_CLOEXEC) < 0)
        {
            throw new IOException($"fcntl(FD_CLOEXEC) on fd {fd}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
        }
    }

    private static Dictionary<string, string> CurrentEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            result[(string)entry.Key] = (string?)entry.Value ?? "";
        }
        return result;
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw new IOException($"{what}: {LibC.ErrorText(rc)}");
        }
    }

    private static unsafe byte* Utf8(List<IntPtr> allocations, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        var p = Marshal.AllocHGlobal(bytes.Length + 1);
        allocations.Add(p);
        Marshal.Copy(bytes, 0, p, bytes.Length);
        ((byte*)p)[bytes.Length] = 0;
        return (byte*)p;
    }

    private static unsafe IntPtr StringArray(List<IntPtr> allocations, IReadOnlyList<string> values)
    {
        var array = Marshal.AllocHGlobal(IntPtr.Size * (values.Count + 1));
        allocations.Add(array);
        var slots = (IntPtr*)array;
        for (var i = 0; i < values.Count; i++)
        {
            slots[i] = (IntPtr)Utf8(allocations, values[i]);
        }
        slots[values.Count] = IntPtr.Zero;
        return array;
    }
}
