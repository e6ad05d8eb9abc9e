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
    private volatile bool _sharedMounted;
    private readonly Lock _shareLock = new();
    private bool _shareDeferred; // guarded by _shareLock after boot

    public bool Ready => _ready;
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
    public void MarkReady() => _ready = true;

    // The pod's /dev/shm (docs/kubernetes.md): one tmpfs per VM, bound into every container of a CRI
    // pod, sized as containerd sizes the sandbox shm it makes for runc pods (64 MiB).
    public const string PodShmOptions = "mode=1777,size=65536k";

    public void SetUpAsPid1(string modulesList, string modulesDirectory, string sharedDirectory, string podShmDirectory,
        bool mountShare = true)
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
        LoadModules(modulesList, modulesDirectory);
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

    // /etc/cc/modules: one module a line, dependencies first; a name means <dir>/<name>.ko, a path is
    // used as is. finit_module's EEXIST (already loaded or built in) is success.
    public unsafe void LoadModules(string listPath, string directory)
    {
        if (!File.Exists(listPath))
        {
            AgentLog.GuestStep(logger, $"no module list at {listPath}");
            return;
        }

        var loaded = 0;
        foreach (var raw in File.ReadAllLines(listPath))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

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
