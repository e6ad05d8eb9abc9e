using System.Diagnostics;
using System.Text;
using Cc.Agent.Guest;
using Cc.Agent.Logging;
using Cc.Agent.Native;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Containers;

// A template's guest (booted with cc.share=late, docs/templates.md) runs one throwaway container before it is saved:
// created, started, read, waited for and removed through the same ContainerManager code as a pod's, with crun, from a
// read-only bind of the guest's own root. Every clone then starts with the agent's container code paths initialised
// (its lazily built state, its heap and thread pool grown) and the guest kernel's caches (dentries of /proc, /sys and
// crun's files, slabs of namespaces and cgroups) filled, instead of paying for them in its pod's first CreateContainer.
// QEMU's translation cache is not part of that: it is not in the saved state, so a clone translates crun and the agent
// again (docs/performance.md, "Pods starting at once").
//
// Invariant: nothing of the warm-up reaches a pod. Its mounts, cgroup, processes and directories are captured before and
// checked after (GuestFootprint); the boot timeline then says TemplateWarmedUp, or TemplateWarmUpLeftovers with the
// factory refusing to save that template (the pod boots cold). CreateSandbox awaits the warm-up (AgentService), so even
// a template saved during it (the factory's bound passed) finishes it before the pod's first request. Its crun commands
// do not mark the boot timeline: the timeline's crun steps stay the pod's first container's.
public static class TemplateWarmUp
{
    // Not a valid id of the host's (they come from containerd: no leading dot); crun's state is /run/crun/<id>.
    public const string ContainerId = "cc-template-warm-up";
    public const string WorkDirectory = "/run/cc/warm-up";
    private const string CrunStateRoot = "/run/crun";

    // containerd's default spec for `ctr run` (1.6: capabilities, rlimits, mounts, masked and read-only paths, its
    // namespaces), without seccomp (crun would keep the compiled profile in its state root) and with a cgroup directly
    // under the root, which `crun delete` removes. The process prints crun's version from the guest's own root.
    internal const string SpecJson = """
        {
          "ociVersion": "1.0.2",
          "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": [ "/usr/bin/crun", "--version" ],
            "env": [ "PATH=/usr/sbin:/usr/bin:/sbin:/bin" ],
            "cwd": "/",
            "capabilities": {
              "bounding": [ "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE" ],
              "effective": [ "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE" ],
              "permitted": [ "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE" ]
            },
            "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
            "noNewPrivileges": true
          },
          "root": { "path": "rootfs", "readonly": true },
          "hostname": "warm-up",
          "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc", "options": [ "nosuid", "noexec", "nodev" ] },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" ] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": [ "nosuid", "noexec", "nodev" ] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": [ "nosuid", "noexec", "nodev", "ro" ] },
            { "destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] }
          ],
          "linux": {
            "cgroupsPath": "/cc-template-warm-up",
            "resources": { "devices": [ { "allow": false, "access": "rwm" } ], "memory": { "limit": 268435456 }, "pids": { "limit": 1024 } },
            "namespaces": [ { "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "network" }, { "type": "cgroup" } ],
            "maskedPaths": [ "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi" ],
            "readonlyPaths": [ "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" ]
          }
        }
        """;

    // After the background modules (the container's network namespace and cgroups need nothing more, but the modules'
    // loading would otherwise share the vCPU with it): returns once the guest is as it was, or the leftovers are marked.
    // Never faults: a pod's CreateSandbox awaits it. A check that cannot be made counts as leftovers (nothing proven).
    public static async Task RunAsync(Task deferredModulesLoaded, AgentOptions options, ILoggerFactory loggerFactory)
    {
        var logger = loggerFactory.CreateLogger("Cc.Agent.WarmUp");
        await deferredModulesLoaded.ConfigureAwait(false);
        try
        {
            await WarmUpAndCheckAsync(options, loggerFactory, logger).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            AgentLog.TemplateWarmUpLeftovers(logger, $"the check failed: {e.Message}");
            BootTimeline.Mark(BootTimeline.TemplateWarmUpLeftovers);
        }
    }

    private static async Task WarmUpAndCheckAsync(AgentOptions options, ILoggerFactory loggerFactory, ILogger logger)
    {
        BootTimeline.Mark(BootTimeline.TemplateWarmUpStarted);
        var started = Stopwatch.GetTimestamp();
        string[] watchedPaths = [WorkDirectory, Path.Combine(CrunStateRoot, ContainerId)];
        var before = GuestFootprint.Capture(watchedPaths);
        var rootfs = Path.Combine(WorkDirectory, "rootfs");
        var bound = false;
        try
        {
            Directory.CreateDirectory(rootfs);
            bound = BindRootReadOnly(rootfs);
            var manager = new ContainerManager(options with
            {
                ContainersDirectory = Path.Combine(WorkDirectory, "containers"),
                RootfsDirectory = WorkDirectory,
            }, loggerFactory, markTimeline: false);
            await RunContainerAsync(manager, rootfs).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A failed warm-up costs the clones only what it would have saved; what it left is checked below all the same.
            AgentLog.TemplateWarmUpFailed(logger, e.Message);
        }
        finally
        {
            Undo(before, rootfs, bound, logger);
        }

        var left = GuestFootprint.Added(before, GuestFootprint.Capture(watchedPaths));
        var milliseconds = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (left.Count == 0)
        {
            AgentLog.TemplateWarmedUp(logger, milliseconds);
            BootTimeline.Mark(BootTimeline.TemplateWarmedUp);
        }
        else
        {
            AgentLog.TemplateWarmUpLeftovers(logger, string.Join("; ", left));
            BootTimeline.Mark(BootTimeline.TemplateWarmUpLeftovers);
        }
    }

    private static async Task RunContainerAsync(ContainerManager manager, string rootfs)
    {
        var cancel = CancellationToken.None;
        await manager.CreateAsync(ContainerId, Encoding.UTF8.GetBytes(SpecJson), rootfs, terminal: false, stdin: false, cancel)
            .ConfigureAwait(false);
        try
        {
            await manager.StartAsync(ContainerId, cancel).ConfigureAwait(false);
            var output = new StringBuilder();
            while (await manager.ReadAsync(ContainerId, "", ContainerManager.OutputStream.Stdout, 4096, cancel).ConfigureAwait(false)
                   is { Length: > 0 } chunk)
            {
                output.Append(Encoding.UTF8.GetString(chunk.Span));
            }
            var (status, _) = await manager.WaitAsync(ContainerId, "", cancel).ConfigureAwait(false);
            if (status.Code != 0 || !output.ToString().StartsWith("crun version", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"its process exited with {status.Code} after writing \"{output.ToString().Trim()}\"");
            }
        }
        finally
        {
            await manager.RemoveAsync(ContainerId, cancel).ConfigureAwait(false);
        }
    }

    // A plain (not recursive) bind of "/": the initramfs's files without the pseudo filesystems and tmpfs mounted on it,
    // whose mount points the container's spec fills with its own. Read-only, as the spec's root.
    private static bool BindRootReadOnly(string rootfs)
    {
        if (LibC.mount("/", rootfs, "", LibC.MS_BIND, null) != 0)
        {
            throw new IOException($"bind / onto {rootfs}: {LibC.ErrorText(LibC.LastError)}");
        }
        if (LibC.mount("", rootfs, "", LibC.MS_REMOUNT | LibC.MS_BIND | LibC.MS_RDONLY, null) != 0)
        {
            var error = LibC.ErrorText(LibC.LastError);
            _ = LibC.umount2(rootfs, 0);
            throw new IOException($"read-only {rootfs}: {error}");
        }
        return true;
    }

    // Unmounts the root's bind, removes cgroup directories the container added (crun's delete removes its own; a parent
    // it made would stay) and the warm-up's directories. Only empty directories are removed (rmdir, never recursive):
    // while the bind is still mounted, the rootfs directory holds the guest's whole root.
    private static void Undo(GuestFootprint before, string rootfs, bool bound, ILogger logger)
    {
        if (bound && LibC.umount2(rootfs, 0) != 0)
        {
            AgentLog.TemplateWarmUpFailed(logger, $"unmount {rootfs}: {LibC.ErrorText(LibC.LastError)}");
            return;
        }

        var now = GuestFootprint.Capture([]);
        foreach (var cgroup in now.Cgroups.Where(c => !before.Cgroups.Contains(c)).OrderByDescending(c => c.Length))
        {
            TryRemoveEmptyDirectory(cgroup, logger);
        }
        foreach (var directory in (string[])[Path.Combine(WorkDirectory, "containers"), rootfs, WorkDirectory])
        {
            TryRemoveEmptyDirectory(directory, logger);
        }
    }

    private static void TryRemoveEmptyDirectory(string path, ILogger logger)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: false);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Reported with the footprint check's leftovers.
            AgentLog.TemplateWarmUpFailed(logger, $"remove {path}: {e.Message}");
        }
    }
}
