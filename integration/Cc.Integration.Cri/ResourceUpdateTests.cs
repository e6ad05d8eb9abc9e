using System.Globalization;
using Cc.Integration.Containerd.Harness;
using Cc.Integration.Cri.Harness;
using Runtime.V1;
using Xunit.Abstractions;

namespace Cc.Integration.Cri;

/// <summary>
/// kubelet's in-place resize through the CRI (docs/hotplug.md): UpdateContainerResources raises a container's memory and
/// CPU limits, the pod's VM grows (virtio-mem, vCPU hot-plug) before the container's cgroup in the guest takes the new
/// limits, and every container of the pod sees the bigger VM; when that container is removed, the VM shrinks back to
/// what the pod's remaining containers ask for. Observed inside the guest (MemTotal, the online CPUs, nproc, the
/// container's memory.max and cpu.max). cc only: under runc the containers see the host, whose size never changes.
/// Sizes are small for TCG: the pod announces no limits, so its VM boots with the configured 512 MiB and 1 vCPU, which
/// the container's 256 MiB (+ the guest's 128) and 1 CPU fit; 768 MiB and 2 CPUs grow it to 896 MiB and 2 vCPUs.
/// </summary>
[Collection(CriCollection.Name)]
[Trait("Category", "Cri")]
public sealed class ResourceUpdateTests(CriFixture fixture, ITestOutputHelper output)
{
    private const long MiB = 1024 * 1024;
    private static readonly TimeSpan s_markerTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_shrinkTimeout = TimeSpan.FromSeconds(90);

    /// <summary>Where the command ran, MemTotal in KiB, the kernel's online CPU list, nproc, memory.max and cpu.max.</summary>
    private const string ReadSize =
        "uname -r; sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo; cat /sys/devices/system/cpu/online; nproc; "
        + "cat /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/cpu.max";

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task Update_container_resources_grows_the_pods_vm_and_the_cgroup_and_removing_the_container_shrinks_the_vm(
        string version)
    {
        var ct = CancellationToken.None;
        var run = await CriRun.BeginAsync(fixture, version, output);
        var logStart = run.Containerd.LogLength();
        try
        {
            await using var pod = await CriPod.RunAsync(run.Containerd, "cc", $"resize-{version.Replace('.', '-')}", ct);
            var stay = await pod.CreateContainerAsync("stay", 0, "echo stay-up; exec sleep 100000", ct);
            var grow = await pod.CreateContainerAsync("grow", 0, "echo grow-up; exec sleep 100000", ct,
                configure: c => c.Linux.Resources = Limits(256 * MiB, cpus: 1));
            await pod.StartContainerAsync(stay, ct);
            await pod.StartContainerAsync(grow, ct);
            await LogShowsAsync(pod, "stay", "stay-up", ct);
            await LogShowsAsync(pod, "grow", "grow-up", ct);

            var boot = await ReadAsync(pod, grow, ct);
            boot.Online.ShouldBe("0", boot.ToString());
            boot.Nproc.ShouldBe("1", boot.ToString());
            boot.MemoryMax.ShouldBe((256 * MiB).ToString(CultureInfo.InvariantCulture));
            boot.CpuMax.ShouldBe("100000 100000");

            await run.Containerd.Runtime.UpdateContainerResourcesAsync(
                new UpdateContainerResourcesRequest { ContainerId = grow, Linux = Limits(768 * MiB, cpus: 2) },
                deadline: DateTime.UtcNow.AddMinutes(2), cancellationToken: ct);

            var grown = await ReadAsync(pod, grow, ct);
            output.WriteLine($"boot {boot}\ngrown {grown}");
            // 384 MiB plugged (896 - 512); the kernel keeps ~1.6 % of hot-added memory for its page structs.
            (grown.MemTotalKib - boot.MemTotalKib).ShouldBeGreaterThanOrEqualTo(370L << 10, $"boot {boot}, grown {grown}");
            grown.Online.ShouldBe("0-1");
            grown.Nproc.ShouldBe("2");
            grown.MemoryMax.ShouldBe((768 * MiB).ToString(CultureInfo.InvariantCulture));
            grown.CpuMax.ShouldBe("200000 100000");
            // One VM for the pod: the other container sees the same guest, its own cgroup unchanged.
            var neighbour = await ReadAsync(pod, stay, ct);
            neighbour.MemTotalKib.ShouldBe(grown.MemTotalKib);
            neighbour.Online.ShouldBe("0-1");
            neighbour.MemoryMax.ShouldBe("max");

            var status = await pod.StatusAsync(grow, ct);
            output.WriteLine($"containerd {version} ContainerStatus.resources: {status.Resources}");
            // Both versions report the resources the update set (kubelet's in-place resize reads them back).
            status.Resources.ShouldNotBeNull($"containerd {version} reports no resources");
            status.Resources.Linux.MemoryLimitInBytes.ShouldBe(768 * MiB);
            status.Resources.Linux.CpuQuota.ShouldBe(200_000);
            status.Resources.Linux.CpuPeriod.ShouldBe(100_000);

            // The grown container goes; the VM is given back what its limits had added, the neighbour keeps running.
            await pod.StopContainerAsync(grow, 2, ct);
            await run.Containerd.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = grow },
                deadline: DateTime.UtcNow.AddMinutes(1), cancellationToken: ct);
            var shrunk = await Wait.ForAsync("the VM shrinks back to its boot size after the container's removal", s_shrinkTimeout,
                async () =>
                {
                    var now = await ReadAsync(pod, stay, ct);
                    return now.Online == "0" && now.MemTotalKib <= boot.MemTotalKib + (4L << 10) ? now : null;
                }, ct);
            output.WriteLine($"shrunk {shrunk}");
            shrunk.Nproc.ShouldBe("1");
            run.Containerd.LogSince(logStart, lines: 5000)
                .ShouldContain($"container {grow} deleted, shrinking the VM from 896 MiB, 2 vCPUs to 512 MiB, 1 vCPUs");

            await pod.StopAsync(ct);
            await pod.RemoveAsync(ct);
            await PodLeftovers.ShouldBeGoneAsync(run.Containerd, pod, [stay, grow], run.QemuBefore);
        }
        catch
        {
            run.WriteLogTail();
            throw;
        }
    }

    private static LinuxContainerResources Limits(long memoryBytes, int cpus) =>
        new() { MemoryLimitInBytes = memoryBytes, CpuPeriod = 100_000, CpuQuota = cpus * 100_000 };

    private sealed record GuestSize(long MemTotalKib, string Online, string Nproc, string MemoryMax, string CpuMax);

    private static async Task<GuestSize> ReadAsync(CriPod pod, string container, CancellationToken ct)
    {
        var read = await pod.ExecSyncAsync(container, ct, "sh", "-c", ReadSize);
        var text = read.Stdout.ToStringUtf8();
        read.ExitCode.ShouldBe(0, $"{text}{read.Stderr.ToStringUtf8()}");
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        lines.Length.ShouldBe(6, text);
        lines[0].ShouldBe(File.ReadAllText(RepoPaths.GuestKernelVersion).Trim(), $"where it ran:\n{text}");
        return new GuestSize(long.Parse(lines[1], CultureInfo.InvariantCulture), lines[2], lines[3], lines[4], lines[5]);
    }

    private static async Task LogShowsAsync(CriPod pod, string name, string marker, CancellationToken ct) =>
        await Wait.ForAsync($"{name} logs '{marker}'", s_markerTimeout,
            () => Task.FromResult(pod.Log(name, 0).Contains($" stdout F {marker}\n", StringComparison.Ordinal) ? marker : null), ct);
}
