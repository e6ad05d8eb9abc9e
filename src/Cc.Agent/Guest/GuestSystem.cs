using System.Text;
using Cc.Agent.Logging;
using Cc.Agent.Native;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Guest;

// PID 1 duties that are not about containers (docs/design/guest.md "Agent duties as PID 1"): the
// pseudo filesystems, kernel modules, the 9p share, hostname and clock. A failed step is logged and
// the agent goes on: a guest that can still answer Check tells the host more than a panic would.
public sealed class GuestSystem(ILogger logger)
{
    public const string SharedTag = "ccshared";
    public const string SharedOptions = "trans=virtio,version=9p2000.L,msize=524288,cache=mmap";

    private volatile bool _ready;
    // The modules of /etc/cc/modules that are not in the boot set, loaded on a background thread once the agent is
    // ready (completed at once when there is nothing to defer, or the agent is not PID 1).
    private readonly TaskCompletionSource _deferredModules = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _sharedMounted;
    private readonly Lock _shareLock = new();
    private bool _shareDeferred; // guarded by _shareLock after boot

    public bool Ready => _ready;

    // Completes when every module of the image is loaded. A request that could need one that is loaded late (a NIC's
    // virtio_net, a workload's overlay or bridge) awaits it first, so what a container sees is what it saw when all
    // were loaded before ready; the boot's idle time (the host connecting, Check, CreateSandbox) absorbs the loading.
    public Task DeferredModulesLoaded => _deferredModules.Task;
    public bool SharedMounted => _sharedMounted;

    public static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    // /proc first, before anything else: the kernel command line (our settings) is read from it.
    public static void MountProc()
    {
        if (!File.Exists("/proc/self/stat"))
        {
            Directory.CreateDirectory("/proc");
            LibC.mount("proc", "/proc", "proc", LibC.MS_NOSUID | LibC.MS_NODEV | LibC.MS_NOEXEC, null);
        }
    }

    // Marks the agent ready without any set-up (not PID 1: tests, or a guest prepared by someone else).
    public void MarkReady()
    {
        _ready = true;
        _deferredModules.TrySetResult();
    }

    // The pod's /dev/shm (docs/kubernetes.md): one tmpfs per VM, bound into every container of a CRI
    // pod, sized as containerd sizes the sandbox shm it makes for runc pods (64 MiB).
    public const string PodShmOptions = "mode=1777,size=65536k";

    // bootModulesList names the modules loaded before ready (the agent's port, the share); vsockModulesList the ones
    // AF_VSOCK adds, loaded before ready only when the VM has a virtio-vsock device (the agent serves vsock only if
    // /dev/vsock exists as it starts; a VM without the device has no use for them at boot). The rest of modulesList
    // are loaded after ready on a background thread (DeferredModulesLoaded). An image without a boot list (older
    // builds) loads them all before ready.
    public void SetUpAsPid1(string modulesList, string bootModulesList, string vsockModulesList, string modulesDirectory,
        string sharedDirectory, string podShmDirectory, bool mountShare = true)
    {
        const ulong hardened = LibC.MS_NOSUID | LibC.MS_NODEV | LibC.MS_NOEXEC;
        MountProc();
        Mount("sysfs", "/sys", "sysfs", hardened, null);
        Mount("devtmpfs", "/dev", "devtmpfs", LibC.MS_NOSUID, "mode=0755");
        Mount("devpts", "/dev/pts", "devpts", LibC.MS_NOSUID | LibC.MS_NOEXEC, "ptmxmode=0666,mode=0620,gid=5");
        Mount("shm", "/dev/shm", "tmpfs", LibC.MS_NOSUID | LibC.MS_NODEV, "mode=1777");
        Mount("tmpfs", "/run", "tmpfs", LibC.MS_NOSUID | LibC.MS_NODEV, "mode=0755");
        Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", hardened, "nsdelegate");
        EnableControllers("/sys/fs/cgroup/cgroup.subtree_control");
        BootTimeline.Mark(BootTimeline.Mounted);
        var all = ReadModuleList(modulesList);
        var boot = File.Exists(bootModulesList) ? ReadModuleList(bootModulesList) : all;
        LoadModules(boot, modulesDirectory);
        if (File.Exists(vsockModulesList) && VirtioDevices.Present(VirtioDevices.Socket))
        {
            var vsock = ReadModuleList(vsockModulesList);
            LoadModules(vsock, modulesDirectory);
            boot = [.. boot, .. vsock];
        }
        BootTimeline.Mark(BootTimeline.ModulesLoaded);
        if (mountShare)
        {
            _sharedMounted = Mount(SharedTag, sharedDirectory, "9p", LibC.MS_NODEV, SharedOptions);
            BootTimeline.Mark(BootTimeline.ShareMounted);
        }
        else
        {
            _shareDeferred = true;
            AgentLog.GuestStep(logger, "the share is mounted at CreateSandbox (cc.share=late)");
        }
        Mount("shm", podShmDirectory, "tmpfs", hardened, PodShmOptions);
        _ready = true;
        BootTimeline.Mark(BootTimeline.Ready);
        AgentLog.GuestStep(logger, "ready");
        LoadDeferredModules([.. all.Except(boot, StringComparer.Ordinal)], modulesDirectory);
    }

    // Loads `modules` (in list order: each one's dependencies are in the boot set or before it) on a thread of its own at
    // the lowest priority, so the agent's own start (the port, the first Check) goes first on the guest's vCPU.
    private void LoadDeferredModules(IReadOnlyList<string> modules, string directory)
    {
        if (modules.Count == 0)
        {
            _deferredModules.TrySetResult();
            return;
        }

        var thread = new Thread(() =>
        {
            try
            {
                // PRIO_PROCESS with who = 0 sets the calling thread's nice value on Linux (a per-thread attribute).
                _ = LibC.setpriority(LibC.PRIO_PROCESS, 0, 19);
                LoadModules(modules, directory);
            }
            catch (Exception e)
            {
                // An exception escaping a thread ends the process, and PID 1's end panics the guest: log it instead.
                AgentLog.GuestStepFailed(logger, "deferred modules", e.Message);
            }
            finally
            {
                BootTimeline.Mark(BootTimeline.DeferredModulesLoaded);
                _deferredModules.TrySetResult();
            }
        })
        { IsBackground = true, Name = "deferred modules" };
        thread.Start();
    }

    // The share of a VM booted with cc.share=late (a template's clone): mounted at the pod's CreateSandbox, after the
    // restore, so the template never had it mounted. Idempotent; does nothing unless the boot deferred the mount (an
    // agent that is not PID 1 has no share to mount). False when the mount failed (logged).
    public bool EnsureSharedMounted(string sharedDirectory)
    {
        lock (_shareLock)
        {
            if (_shareDeferred && !_sharedMounted)
            {
                _sharedMounted = Mount(SharedTag, sharedDirectory, "9p", LibC.MS_NODEV, SharedOptions);
            }
            return _sharedMounted;
        }
    }

    // crun re-executes itself on every command unless its binary lies on a read-only mount (crun 1.8's libcrun_rexec
    // constructor, against CVE-2019-5736: a container rewriting the runtime through /proc/<pid>/exe): it copies itself
    // into a sealed memfd, or binds itself read-only, and execs that, so every command loads and links twice, and under
    // TCG the copy's fresh pages are translated anew each time. A read-only bind mount of the binary onto itself gives
    // the same protection once, at boot (opening it for writing fails with EROFS; crun's is_self_cloned accepts a
    // read-only file system as safe), and each command runs once (docs/performance.md, "Where a cold start goes").
    // False, logged, when the mounts fail: crun then protects itself as before.
    public bool MakeReadOnly(string path)
    {
        if (LibC.mount(path, path, "", LibC.MS_BIND, null) != 0)
        {
            AgentLog.GuestStepFailed(logger, $"bind {path}", LibC.ErrorText(LibC.LastError));
            return false;
        }

        if (LibC.mount("", path, "", LibC.MS_REMOUNT | LibC.MS_BIND | LibC.MS_RDONLY, null) != 0)
        {
            AgentLog.GuestStepFailed(logger, $"read-only {path}", LibC.ErrorText(LibC.LastError));
            return false;
        }

        return true;
    }

    // Mixes host-provided random bytes into the guest's pool and credits them (RNDADDENTROPY): every clone of a
    // template starts with the template's pool, so without this two clones would draw the same random numbers.
    public unsafe void AddEntropy(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length == 0)
        {
            return;
        }
        using var random = File.OpenHandle("/dev/urandom", FileMode.Open, FileAccess.Write);
        // struct rand_pool_info { int entropy_count (bits); int buf_size (bytes); __u32 buf[]; }
        var info = new byte[8 + bytes.Length];
        BitConverter.TryWriteBytes(info.AsSpan(0, 4), bytes.Length * 8);
        BitConverter.TryWriteBytes(info.AsSpan(4, 4), bytes.Length);
        bytes.CopyTo(info.AsSpan(8));
        fixed (byte* pool = info)
        {
            if (LibC.ioctl(Fd.Raw(random), LibC.RNDADDENTROPY, pool) != 0)
            {
                throw new IOException($"RNDADDENTROPY: {LibC.ErrorText(LibC.LastError)}");
            }
        }
    }

    public unsafe void SetHostname(string hostname)
    {
        var bytes = Encoding.UTF8.GetBytes(hostname);
        if (bytes.Length is 0 or > 64)
        {
            throw new ArgumentException($"hostname \"{hostname}\" must be 1..64 bytes");
        }

        fixed (byte* name = bytes)
        {
            if (LibC.sethostname(name, (nuint)bytes.Length) != 0)
            {
                throw new IOException($"sethostname: {LibC.ErrorText(LibC.LastError)}");
            }
        }
    }

    // A pod sysctl in the guest's root namespaces (/proc/sys/<name with dots as slashes>), as
    // runc writes one. Only names under net. are accepted here: the root network namespace is the
    // pod's; anything else belongs in a container's spec, where crun applies it.
    public static void SetNetworkSysctl(string name, string value)
    {
        if (!name.StartsWith("net.", StringComparison.Ordinal) || name.Contains("..", StringComparison.Ordinal)
            || name.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"sysctl \"{name}\" is not a network sysctl (net.*)");
        }

        var path = "/proc/sys/" + name.Replace('.', '/');
        if (!File.Exists(path))
        {
            throw new ArgumentException($"sysctl {name} does not exist in the guest kernel");
        }

        try
        {
            File.WriteAllText(path, value);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"sysctl {name}={value}: {e.Message}", e);
        }
    }

    public unsafe void SetClock(DateTimeOffset time)
    {
        var ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var spec = new LibC.TimeSpec
        {
            Seconds = ticks / TimeSpan.TicksPerSecond,
            Nanoseconds = ticks % TimeSpan.TicksPerSecond * 100,
        };
        if (LibC.clock_settime(LibC.CLOCK_REALTIME, &spec) != 0)
        {
            throw new IOException($"clock_settime: {LibC.ErrorText(LibC.LastError)}");
        }
    }

    // /etc/cc/modules (and modules.boot): one module a line, dependencies first; blank lines and # comments skipped.
    public IReadOnlyList<string> ReadModuleList(string listPath)
    {
        if (!File.Exists(listPath))
        {
            AgentLog.GuestStep(logger, $"no module list at {listPath}");
            return [];
        }

        return [.. File.ReadAllLines(listPath).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
    }

    // A name means <dir>/<name>.ko, a path is used as is. finit_module's EEXIST (already loaded or built in) is success.
    public unsafe void LoadModules(IReadOnlyList<string> modules, string directory)
    {
        var loaded = 0;
        foreach (var line in modules)
        {
            var path = line.Contains('/') ? line : Path.Combine(directory, line.EndsWith(".ko", StringComparison.Ordinal) ? line : line + ".ko");
            try
            {
                using var module = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
                byte empty = 0;
                if (LibC.syscall(LibC.SYS_finit_module, Fd.Raw(module), &empty, 0) != 0 && LibC.LastError != LibC.EEXIST)
                {
                    AgentLog.GuestStepFailed(logger, $"module {line}", LibC.ErrorText(LibC.LastError));
                    continue;
                }

                loaded++;
            }
            catch (IOException e)
            {
                AgentLog.GuestStepFailed(logger, $"module {line}", e.Message);
            }
        }

        AgentLog.GuestStep(logger, $"{loaded} modules loaded");
    }

    private bool Mount(string source, string target, string type, ulong flags, string? data)
    {
        try
        {
            Directory.CreateDirectory(target);
        }
        catch (IOException e)
        {
            AgentLog.GuestStepFailed(logger, $"mkdir {target}", e.Message);
            return false;
        }

        if (LibC.mount(source, target, type, flags, data) != 0)
        {
            var errno = LibC.LastError;
            // EBUSY: already mounted (the kernel mounted devtmpfs itself, or a second start).
            if (errno != LibC.EBUSY)
            {
                AgentLog.GuestStepFailed(logger, $"mount {type} on {target}", LibC.ErrorText(errno));
                return false;
            }
        }

        return true;
    }

    private void EnableControllers(string subtreeControl)
    {
        try
        {
            var available = File.ReadAllText("/sys/fs/cgroup/cgroup.controllers").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // One write enables them all: the kernel takes a space-separated list and applies it as a whole. Only if
            // that fails, one by one, to keep every controller that can be delegated.
            try
            {
                File.WriteAllText(subtreeControl, string.Join(' ', available.Select(c => "+" + c)));
                return;
            }
            catch (IOException)
            {
                // one of them refused: the loop below finds which
            }

            foreach (var controller in available)
            {
                try
                {
                    File.WriteAllText(subtreeControl, "+" + controller);
                }
                catch (IOException)
                {
                    // some controllers (cpuset with internal processes) cannot be delegated: crun copes
                }
            }
        }
        catch (IOException e)
        {
            AgentLog.GuestStepFailed(logger, "cgroup controllers", e.Message);
        }
    }
}
