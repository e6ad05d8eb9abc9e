using System.Diagnostics;
using System.Globalization;
using Cc.Integration.Containerd.Harness;
using Cc.Integration.Cri.Harness;
using Cc.TestKit.Leftovers;

namespace Cc.Bench.Stress;

/// <summary>One pod cri-stress made: what the leak check looks for after it (its containers, its network namespace).</summary>
internal sealed class StressPod(string id, string? networkNamespace)
{
    private readonly Lock _lock = new();
    private readonly List<string> _containers = [];

    public string Id { get; } = id;

    public string? NetworkNamespace { get; } = networkNamespace;

    public void AddContainer(string id)
    {
        lock (_lock)
        {
            _containers.Add(id);
        }
    }

    public IReadOnlyCollection<string> Containers()
    {
        lock (_lock)
        {
            return [.. _containers];
        }
    }
}

/// <summary>
/// The leak check of cri-stress, while its containerd still runs: hack/containerd/stop.sh kills and deletes whatever a
/// pod left (shims, QEMUs, network namespaces, mounts, sockets), so a check after it, as hack/check-leftovers.sh's
/// run_dir check is, would not see most of a leak. Every pod gets the CRI tier's own check (PodLeftovers: processes,
/// mounts, network namespace, veths, taps and tc filters, shim socket, run directory, CRI state and bundles, FIFOs and
/// sockets), then the instance gets hack/check-leftovers.sh --instance (what containerd still lists, bundles, FIFOs,
/// sockets, mounts, shim processes and their children).
/// </summary>
internal static class CriStressLeftovers
{
    /// <summary>Each pod may take this long to go after its removal (its shim exits after containerd's Shutdown).</summary>
    private static readonly TimeSpan s_perPod = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan s_instanceCheckTimeout = TimeSpan.FromMinutes(3);

    /// <summary>One line per leftover (empty when nothing is left), and how long the check took.</summary>
    public static async Task<(IReadOnlyList<string> Left, TimeSpan Took)> FindAsync(CriContainerd containerd,
        IReadOnlyCollection<StressPod> pods, IReadOnlySet<int> qemuBefore)
    {
        var clock = Stopwatch.StartNew();
        var left = new List<string>();
        foreach (var pod in pods)
        {
            left.AddRange(await PodLeftovers.AfterRemovalAsync(containerd, pod.Id, pod.Containers(), pod.NetworkNamespace,
                qemuBefore, s_perPod).ConfigureAwait(false));
        }
        var instance = await ProcessRunner.RunAsync(RepoPaths.Hack("check-leftovers.sh"), ["--instance", containerd.Directory],
            s_instanceCheckTimeout, CancellationToken.None).ConfigureAwait(false);
        if (instance.ExitCode != 0)
        {
            left.AddRange(instance.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim())
                .Where(l => !l.StartsWith("leftovers:", StringComparison.Ordinal)));
            if (instance.Stderr.Length > 0)
            {
                left.Add(string.Create(CultureInfo.InvariantCulture, $"check-leftovers.sh --instance exited {instance.ExitCode}: {instance.Stderr.Trim()}"));
            }
        }
        return (left, clock.Elapsed);
    }

    /// <summary>The pids of the QEMUs running before the run: a QEMU of another checkout started during it is told apart by its argv.</summary>
    public static IReadOnlySet<int> QemuPids() => HostProcess.QemuPids();
}
