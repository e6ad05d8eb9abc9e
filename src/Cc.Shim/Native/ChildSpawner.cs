using System.Runtime.InteropServices;
using System.Text;
using Cc.Hypervisor.Processes;

namespace Cc.Shim.Native;

/// <summary>
/// posix_spawn with a chosen fd layout — what Process.Start cannot do (no extra fds, no process group). The child gets
/// <c>/dev/null</c> on 0/1/2, <c>inheritedFds[i]</c> on fd <c>3 + i</c> and nothing else (every fd .NET opens is
/// close-on-exec), a process group of its own, an empty signal mask and default signal dispositions (the .NET runtime
/// blocks and handles signals of its own, which an exec'ed child must not inherit). SIGCHLD default in particular
/// matters for the daemon: a .NET runtime that started with SIGCHLD ignored reaps every child with waitpid(-1), which
/// would take the exit statuses our own waitpid threads and the runtime's Process objects wait for.
/// Every pid is registered in <see cref="OwnChildren"/>; the caller reports <see cref="OwnChildren.Collected"/>.
/// </summary>
public static class ChildSpawner
{
    /// <summary>The first fd number a child finds its inherited fds on.</summary>
    public const int FirstInheritedFd = 3;

    /// <summary>
    /// Each inherited fd is first duplicated (close-on-exec) to a number at or above this, then dup2'ed onto its place
    /// in the child. Going through copies above every target means no dup2 can overwrite a source that is still to be
    /// placed, and a source that already has its target number still loses close-on-exec (dup2 onto itself would not).
    /// </summary>
    private const int ScratchFdFloor = 64;

    /// <summary>Spawns <paramref name="executable"/> (an absolute path; no PATH search) and returns its pid.</summary>
    /// <exception cref="ChildSpawnException">posix_spawn failed; <see cref="ChildSpawnException.Errno"/> says why.</exception>
    public static unsafe int Spawn(string executable, IReadOnlyList<string> args, IReadOnlyDictionary<string, string> environment,
        IReadOnlyList<int> inheritedFds)
    {
        var allocations = new List<IntPtr>();
        var scratch = new List<int>();
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
            for (var i = 0; i < inheritedFds.Count; i++)
            {
                var copy = LibC.fcntl(inheritedFds[i], LibC.F_DUPFD_CLOEXEC, ScratchFdFloor);
                if (copy < 0)
                {
                    throw new IOException($"fcntl(F_DUPFD_CLOEXEC) of fd {inheritedFds[i]}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
                }
                scratch.Add(copy);
                // The dup2'ed target never has FD_CLOEXEC; the scratch copy keeps it and closes at exec.
                Check(LibC.posix_spawn_file_actions_adddup2(fileActions, copy, FirstInheritedFd + i), "adddup2");
            }

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
            var envp = StringArray(allocations, environment.Select(kv => kv.Key + "=" + kv.Value).ToArray());
            var path = Utf8(allocations, executable);
            // glibc reports a failed exec (ENOENT, EACCES, ENOEXEC) here, not as a child that exits 127.
            // Registered in OwnChildren before the daemon's orphan reaper can look: whoever called us waits for it.
            return OwnChildren.Start(() =>
            {
                var rc = LibC.posix_spawn(out var pid, path, fileActions, attr, (byte**)argv, (byte**)envp);
                return rc != 0 ? throw new ChildSpawnException(executable, rc) : pid;
            }, pid => pid);
        }
        finally
        {
            LibC.posix_spawn_file_actions_destroy(fileActions);
            LibC.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fileActions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
            foreach (var fd in scratch)
            {
                LibC.close(fd);
            }
            foreach (var allocation in allocations)
            {
                Marshal.FreeHGlobal(allocation);
            }
        }
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

/// <summary>posix_spawn itself failed: the executable is missing, not executable, or not a valid program.</summary>
public sealed class ChildSpawnException(string executable, int errno)
    : IOException($"cannot start {executable}: {LibC.ErrorText(errno)}")
{
    public int Errno { get; } = errno;
}
