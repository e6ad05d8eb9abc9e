using System.Runtime.InteropServices;
using System.Text;
using Cc.Hypervisor.Native;
using Microsoft.Win32.SafeHandles;

namespace Cc.Hypervisor.Processes;

/// <summary>
/// The one way the host side starts a child (QEMU, virtiofsd, <c>binary://</c> loggers, the publish binary, the shim
/// daemon): posix_spawn with file actions that give the child exactly <see cref="SpawnOptions.Fds"/> plus 0/1/2 and
/// close everything else (close_range from the highest mapped number up, and each unmapped number below it), whether
/// or not a descriptor of ours lacks FD_CLOEXEC. The child gets an empty signal mask and default dispositions (the .NET
/// runtime blocks and handles signals of its own, which an exec'ed program must not inherit; SIGCHLD default in
/// particular: a runtime started with SIGCHLD ignored reaps every child with waitpid(-1)) and, by default, a process
/// group of its own. Its pid is registered in <see cref="OwnChildren"/> before the daemon's orphan reaper can see it,
/// and the returned <see cref="ChildProcess"/> alone reaps it.
/// </summary>
public static class ChildSpawner
{
    private static ReadOnlySpan<byte> DevNull => "/dev/null\0"u8;

    /// <exception cref="ChildSpawnException">posix_spawn failed; <see cref="ChildSpawnException.Errno"/> says why.</exception>
    /// <exception cref="ArgumentException">The fd map is invalid (a duplicate or negative number, or 1/2 while capturing).</exception>
    public static ChildProcess Spawn(SpawnOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!Path.IsPathFullyQualified(options.Executable))
        {
            throw new ArgumentException($"executable must be an absolute path, got \"{options.Executable}\"", nameof(options));
        }
        List<InheritedFd> map = [.. options.Fds];
        SafeFileHandle? captureRead = null;
        SafeFileHandle? captureWrite = null;
        if (options.CaptureOutput)
        {
            if (map.Any(f => f.ChildFd is 1 or 2))
            {
                throw new ArgumentException("fds 1 and 2 cannot be mapped while the output is captured", nameof(options));
            }
            (captureRead, captureWrite) = AnonymousPipe.Create();
            map.Add(new InheritedFd(1, captureWrite));
            map.Add(new InheritedFd(2, captureWrite));
        }
        try
        {
            int pid = SpawnCore(options, map);
            // The child has its copy of the write end; ours must go, or the capture never reads end-of-file.
            captureWrite?.Dispose();
            return ChildProcess.Track(pid, options, captureRead);
        }
        catch
        {
            captureRead?.Dispose();
            captureWrite?.Dispose();
            throw;
        }
    }

    private static unsafe int SpawnCore(SpawnOptions options, IReadOnlyList<InheritedFd> map)
    {
        if (map.Select(f => f.ChildFd).Distinct().Count() != map.Count || map.Any(f => f.ChildFd < 0))
        {
            throw new ArgumentException("fd map child numbers must be unique and non-negative", nameof(options));
        }
        int highest = Math.Max(2, map.Count == 0 ? 0 : map.Max(f => f.ChildFd));
        var allocations = new List<IntPtr>();
        var scratch = new List<int>();
        var referenced = new List<SafeHandle>();
        void* fileActions = NativeMemory.AllocZeroed(LibC.SpawnStructBytes);
        void* attr = NativeMemory.AllocZeroed(LibC.SpawnStructBytes);
        void* sigset = NativeMemory.AllocZeroed(LibC.SigSetBytes);
        try
        {
            Check(LibC.posix_spawn_file_actions_init(fileActions), "posix_spawn_file_actions_init");
            Check(LibC.posix_spawnattr_init(attr), "posix_spawnattr_init");

            // Each source is first copied (close-on-exec) above every child number, then dup2'ed onto its number. As
            // all copies exist before the first dup2 runs, no dup2 can overwrite a source still to be placed (source 4
            // -> child 3 with source 3 -> child 4), and a source already on its own number loses FD_CLOEXEC through
            // the copy (dup2 onto itself would keep it).
            foreach (InheritedFd fd in map)
            {
                bool added = false;
                fd.Handle.DangerousAddRef(ref added);
                referenced.Add(fd.Handle);
                int source = checked((int)fd.Handle.DangerousGetHandle());
                int copy = LibC.fcntl(source, LibC.F_DUPFD_CLOEXEC, highest + 1);
                if (copy < 0)
                {
                    throw new IOException($"fcntl(F_DUPFD_CLOEXEC) of fd {source}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
                }
                scratch.Add(copy);
                Check(LibC.posix_spawn_file_actions_adddup2(fileActions, copy, fd.ChildFd), "adddup2");
            }
            fixed (byte* devNull = DevNull)
            {
                for (int stdio = 0; stdio <= 2; stdio++)
                {
                    if (!map.Any(f => f.ChildFd == stdio))
                    {
                        Check(LibC.posix_spawn_file_actions_addopen(fileActions, stdio, devNull, stdio == 0 ? LibC.O_RDONLY : LibC.O_WRONLY, 0),
                            "addopen /dev/null");
                    }
                }
            }
            // Whatever is open in us at an unmapped number, FD_CLOEXEC or not, is closed in the child (glibc ignores
            // EBADF for a number that was not open).
            for (int number = 3; number < highest; number++)
            {
                if (!map.Any(f => f.ChildFd == number))
                {
                    Check(LibC.posix_spawn_file_actions_addclose(fileActions, number), "addclose");
                }
            }
            Check(LibC.posix_spawn_file_actions_addclosefrom_np(fileActions, highest + 1), "addclosefrom_np");

            LibC.sigemptyset(sigset);
            Check(LibC.posix_spawnattr_setsigmask(attr, sigset), "setsigmask");
            // Every signal but SIGKILL and SIGSTOP (which cannot be caught) back to default, the real-time ones too.
            // glibc refuses its two internal signals (32, 33) here and manages them itself; that refusal is ignored.
            for (int signal = 1; signal <= 64; signal++)
            {
                if (signal is not LibC.SIGKILL and not 19)
                {
                    LibC.sigaddset(sigset, signal);
                }
            }
            Check(LibC.posix_spawnattr_setsigdefault(attr, sigset), "setsigdefault");
            short flags = LibC.POSIX_SPAWN_SETSIGMASK | LibC.POSIX_SPAWN_SETSIGDEF;
            if (options.NewProcessGroup)
            {
                Check(LibC.posix_spawnattr_setpgroup(attr, 0), "setpgroup");
                flags |= LibC.POSIX_SPAWN_SETPGROUP;
            }
            Check(LibC.posix_spawnattr_setflags(attr, flags), "setflags");

            IntPtr argv = StringArray(allocations, [options.ArgumentZero ?? options.Executable, .. options.Arguments]);
            IntPtr envp = StringArray(allocations, [.. (options.Environment ?? CurrentEnvironment()).Select(kv => kv.Key + "=" + kv.Value)]);
            byte* path = Utf8(allocations, options.Executable);
            return OwnChildren.Start(() =>
            {
                int rc = LibC.posix_spawn(out int pid, path, fileActions, attr, (byte**)argv, (byte**)envp);
                return rc != 0 ? throw new ChildSpawnException(options.Executable, rc) : pid;
            }, pid => pid);
        }
        finally
        {
            LibC.posix_spawn_file_actions_destroy(fileActions);
            LibC.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fileActions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
            foreach (int fd in scratch)
            {
                LibC.close(fd);
            }
            foreach (SafeHandle handle in referenced)
            {
                handle.DangerousRelease();
            }
            foreach (IntPtr allocation in allocations)
            {
                Marshal.FreeHGlobal(allocation);
            }
        }
    }

    private static Dictionary<string, string> CurrentEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
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
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        IntPtr p = Marshal.AllocHGlobal(bytes.Length + 1);
        allocations.Add(p);
        Marshal.Copy(bytes, 0, p, bytes.Length);
        ((byte*)p)[bytes.Length] = 0;
        return (byte*)p;
    }

    private static unsafe IntPtr StringArray(List<IntPtr> allocations, IReadOnlyList<string> values)
    {
        IntPtr array = Marshal.AllocHGlobal(IntPtr.Size * (values.Count + 1));
        allocations.Add(array);
        var slots = (IntPtr*)array;
        for (int i = 0; i < values.Count; i++)
        {
            slots[i] = (IntPtr)Utf8(allocations, values[i]);
        }
        slots[values.Count] = IntPtr.Zero;
        return array;
    }
}
