using System.Net.Sockets;
using Cc.Containerd.Protocol.Tasks;
using Cc.Shim.Configuration;
using Cc.Shim.Lifetime;
using Cc.Hypervisor.Native;
using Cc.Shim.Network;
using Cc.Shim.Sandbox;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Cli;

/// <summary>
/// The <c>delete</c> action (protocol.md §2.6, pitfall 4). containerd runs it after every connection close of a task —
/// normal teardown included — so it is idempotent, touches only this task id, and leaves the pod's VM alone while the
/// daemon still runs. Only when the daemon is gone does it clean up what the daemon would have: this container's rootfs
/// mount and, for the sandbox's own task, the VM and the sandbox's run directory. stdout is the DeleteResponse and
/// nothing else.
/// </summary>
public static class DeleteCommand
{
    /// <summary>The exit status containerd reports for a task whose shim is gone: 128 + SIGKILL, as runc's shim.</summary>
    public const uint KilledStatus = 137;

    /// <summary>The file in a sandbox's run directory naming the VMM's pid; written when the VM starts.</summary>
    public const string VmmPidFile = "vmm.pid";

    public static byte[] Run(ShimArguments args, string bundle, ShimConfiguration configuration, TimeProvider time,
        TextWriter warnings)
    {
        if (args.Id.Length == 0 || args.Namespace.Length == 0)
        {
            throw new ShimUsageException("delete needs -id and -namespace");
        }
        if (!DaemonAlive(bundle))
        {
            // Two independent steps: a clean-up that fails half-way (a busy mount, a vanished netns) must not keep the
            // dead daemon's socket, which would make a later start of the same id fail to bind.
            BestEffort(args, warnings, () => CleanUpAfterDeadDaemon(args, bundle, configuration, warnings));
            BestEffort(args, warnings, () => RemoveDeadSocket(bundle));
        }
        return new DeleteResponse
        {
            Pid = 0,
            ExitStatus = KilledStatus,
            ExitedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
        }.ToByteArray();
    }

    private static void BestEffort(ShimArguments args, TextWriter warnings, Action step)
    {
        try
        {
            step();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            // containerd logs our stderr as clean-up warnings; the DeleteResponse still goes out.
            warnings.WriteLine($"delete {args.Id}: {e.Message}");
        }
    }

    /// <summary>True when the bundle's address names a socket that accepts connections.</summary>
    public static bool DaemonAlive(string bundle)
    {
        var address = BundleFiles.ReadAddress(bundle);
        if (address is null || !address.StartsWith("unix://", StringComparison.Ordinal))
        {
            return false;
        }
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(SocketAddress.PathOf(address)));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static void CleanUpAfterDeadDaemon(ShimArguments args, string bundle, ShimConfiguration configuration,
        TextWriter warnings)
    {
        // The bundle's state names the run directory start resolved from containerd's ConfigPath; a bundle without one
        // (an older shim's) falls back to the system configuration's run_dir.
        var state = ShimState.Read(bundle);
        var sandboxId = state is { SandboxId.Length: > 0 } ? state.SandboxId : SandboxGrouping.GroupId(args.Id, SandboxGrouping.ReadAnnotations(bundle));
        var runDirectory = state is { RunDirectory.Length: > 0 }
            ? state.RunDirectory
            : Path.Combine(configuration.Runtime.RunDir, args.Namespace, sandboxId);
        if (!Directory.Exists(runDirectory))
        {
            // The run directory went with the daemon, but a VMM it could not stop may still run.
            KillVmm(state, runDirectory);
            return;
        }
        var shared = Path.Combine(runDirectory, "shared");
        HostRootfs.Release(args.Id, shared);

        var containers = Path.Combine(shared, "containers");
        var othersLeft = Directory.Exists(containers) && Directory.EnumerateDirectories(containers).Any();
        if (sandboxId != args.Id && othersLeft)
        {
            return;
        }
        KillVmm(state, runDirectory);
        // The taps end with QEMU; the redirects on CNI's veth are ours to remove (network.json says where).
        if (NetworkRecord.Read(runDirectory) is { } network)
        {
            PodNetwork.TearDown(network, runDirectory, NsenterRunner.Instance, NullLogger.Instance);
        }
        if (RunDirectoryCleanup.TryRemove(runDirectory) is { } kept)
        {
            warnings.WriteLine($"delete {args.Id}: run directory {runDirectory} kept: {kept}");
        }
    }

    /// <summary>
    /// Removes the socket file of a daemon that is gone (it accepts no connection): a daemon killed with SIGKILL never
    /// unlinks it, and a later <c>start</c> for the same id must be able to bind the same path.
    /// </summary>
    private static void RemoveDeadSocket(string bundle)
    {
        if (BundleFiles.ReadAddress(bundle) is { } address && address.StartsWith("unix://", StringComparison.Ordinal)
            && SocketAddress.PathOf(address) is { Length: > 0 } path && path[0] == '/')
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// SIGKILLs the sandbox's VMM: the one the bundle's state names, if that pid still has the recorded start time, else
    /// the one in the run directory's vmm.pid if that pid still is a QEMU (pids are reused).
    /// </summary>
    private static void KillVmm(ShimState? state, string runDirectory)
    {
        if (state is { VmmPid: > 1 } recorded)
        {
            if (ShimState.ProcessStartTime(recorded.VmmPid) is { } started && started == recorded.VmmStartTime)
            {
                LibC.kill(recorded.VmmPid, 9);
            }
            return;
        }
        var pidFile = Path.Combine(runDirectory, VmmPidFile);
        if (!File.Exists(pidFile) || !int.TryParse(File.ReadAllText(pidFile).Trim(), out var pid) || pid <= 1)
        {
            return;
        }
        var cmdline = $"/proc/{pid}/cmdline";
        if (File.Exists(cmdline) && File.ReadAllText(cmdline).Contains("qemu", StringComparison.Ordinal))
        {
            LibC.kill(pid, 9);
        }
    }
}
