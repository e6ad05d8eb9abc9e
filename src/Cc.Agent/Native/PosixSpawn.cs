using System.Runtime.InteropServices;
using System.Text;

namespace Cc.Agent.Native;

// Starts a program with posix_spawn, never with System.Diagnostics.Process: Process reaps its own
// children from its SIGCHLD handler, and the agent's ChildReaper must be the only one calling
// waitpid so that every exit is seen exactly once (by pid, not by Process object).
internal static unsafe class PosixSpawn
{
    // Starts `path` with `arguments` (argv[0] included) and `environment` ("K=V"); the child's fds
    // 0, 1 and 2 are dup2'ed from stdio[0..2]. Every other fd of ours is O_CLOEXEC (.NET opens
    // everything that way, and so does LibC.CreatePipe), so nothing else leaks into the child.
    // Signal mask and dispositions are reset: .NET ignores SIGPIPE, and an ignored disposition
    // would otherwise survive the exec into crun and the container.
    public static int Spawn(string path, IReadOnlyList<string> arguments, IReadOnlyList<string> environment,
        ReadOnlySpan<int> stdio, bool newSession = false)
    {
        var strings = new List<nint>();
        var fileActions = NativeMemory.AllocZeroed(LibC.SpawnFileActionsSize);
        var attributes = NativeMemory.AllocZeroed(LibC.SpawnAttrSize);
        var signals = NativeMemory.AllocZeroed(LibC.SigSetSize);
        var argv = (byte**)NativeMemory.AllocZeroed((nuint)(arguments.Count + 1), (nuint)sizeof(nint));
        var envp = (byte**)NativeMemory.AllocZeroed((nuint)(environment.Count + 1), (nuint)sizeof(nint));
        try
        {
            Check(LibC.posix_spawn_file_actions_init(fileActions), "posix_spawn_file_actions_init");
            for (var fd = 0; fd < stdio.Length; fd++)
            {
                Check(LibC.posix_spawn_file_actions_adddup2(fileActions, stdio[fd], fd), "adddup2");
            }

            Check(LibC.posix_spawnattr_init(attributes), "posix_spawnattr_init");
            var flags = (short)(LibC.POSIX_SPAWN_SETSIGMASK | LibC.POSIX_SPAWN_SETSIGDEF);
            if (newSession)
            {
                flags |= LibC.POSIX_SPAWN_SETSID;
            }

            Check(LibC.posix_spawnattr_setflags(attributes, flags), "posix_spawnattr_setflags");
            LibC.sigemptyset(signals);
            Check(LibC.posix_spawnattr_setsigmask(attributes, signals), "posix_spawnattr_setsigmask");
            LibC.sigfillset(signals);
            Check(LibC.posix_spawnattr_setsigdefault(attributes, signals), "posix_spawnattr_setsigdefault");

            for (var i = 0; i < arguments.Count; i++)
            {
                argv[i] = Utf8(arguments[i], strings);
            }

            for (var i = 0; i < environment.Count; i++)
            {
                envp[i] = Utf8(environment[i], strings);
            }

            var nativePath = Utf8(path, strings);
            int pid;
            var error = LibC.posix_spawn(&pid, nativePath, fileActions, attributes, argv, envp);
            if (error != 0)
            {
                throw new IOException($"cannot start {path}: {LibC.ErrorText(error)}");
            }

            return pid;
        }
        finally
        {
            LibC.posix_spawn_file_actions_destroy(fileActions);
            LibC.posix_spawnattr_destroy(attributes);
            foreach (var s in strings)
            {
                NativeMemory.Free((void*)s);
            }

            NativeMemory.Free(fileActions);
            NativeMemory.Free(attributes);
            NativeMemory.Free(signals);
            NativeMemory.Free(argv);
            NativeMemory.Free(envp);
        }
    }

    private static byte* Utf8(string value, List<nint> owned)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        var buffer = (byte*)NativeMemory.Alloc((nuint)count + 1);
        owned.Add((nint)buffer);
        Encoding.UTF8.GetBytes(value, new Span<byte>(buffer, count));
        buffer[count] = 0;
        return buffer;
    }

    private static void Check(int error, string what)
    {
        if (error != 0)
        {
            throw new IOException($"{what}: {LibC.ErrorText(error)}");
        }
    }
}
