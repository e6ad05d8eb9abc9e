using System.Globalization;
using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// `docker run -m --cpus` sizes the pod's VM at boot and `docker update` resizes it (docs/hotplug.md), observed inside
/// the guest: MemTotal and the online CPUs grow when the limits outgrow the VM (virtio-mem, ACPI vCPU hot-plug) and come
/// back when they are lowered, and the container's cgroup follows each time. cc only: under runc the container sees the host, whose size never changes.
/// Sizes are small for TCG: the VM boots with the configured 512 MiB and 1 vCPU (`-m 256m` + the guest's 128 MiB fits),
/// grows to 768 + 128 MiB and 2 vCPUs, and shrinks back to its boot size.
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerHotplugTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    /// <summary>MemTotal in KiB, the kernel's online CPU list, nproc, and the container's memory.max and cpu.max quota.</summary>
    private const string ReadSize =
        "sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo; cat /sys/devices/system/cpu/online; nproc; "
        + "cat /sys/fs/cgroup/memory.max; cut -d' ' -f1 /sys/fs/cgroup/cpu.max";

    [Fact]
    public async Task Docker_update_grows_the_vm_the_guest_sees_it_and_lowering_the_limits_shrinks_it_back()
    {
        var id = await RunSizedAsync(memory: "256m", cpus: "1");
        try
        {
            var boot = await ReadAsync(id);
            boot.Online.ShouldBe("0");
            boot.Nproc.ShouldBe("1");
            boot.MemoryMax.ShouldBe("268435456");

            await DockerOkAsync("update", "--memory", "768m", "--memory-swap", "768m", "--cpus", "2", id);
            var grown = await ReadAsync(id);

            // 384 MiB plugged (896 - 512); the kernel keeps ~1.6 % of hot-added memory for its page structs.
            (grown.MemTotalKib - boot.MemTotalKib).ShouldBeGreaterThanOrEqualTo(370L << 10, $"boot {boot}, grown {grown}");
            grown.Online.ShouldBe("0-1");
            grown.Nproc.ShouldBe("2");
            grown.MemoryMax.ShouldBe("805306368");
            grown.CpuQuota.ShouldBe("200000");

            await DockerOkAsync("update", "--memory", "256m", "--memory-swap", "256m", "--cpus", "1", id);
            var shrunk = await ReadAsync(id);

            shrunk.MemTotalKib.ShouldBeLessThanOrEqualTo(boot.MemTotalKib + (4L << 10), $"boot {boot}, shrunk {shrunk}");
            shrunk.Online.ShouldBe("0");
            shrunk.Nproc.ShouldBe("1");
            shrunk.MemoryMax.ShouldBe("268435456");
            shrunk.CpuQuota.ShouldBe("100000");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    /// <summary>
    /// `docker run -m 1g --cpus 2` sizes the VM at boot (docs/kubernetes.md, "VM size"): 1024 MiB + the guest's 128 MiB
    /// and 2 vCPUs, more than the configured 512 MiB and 1 vCPU, so MemTotal can only pass 900 MiB through the limit; and
    /// the container's cgroup holds the limits themselves.
    /// </summary>
    [Fact]
    public async Task Docker_run_memory_and_cpus_size_the_vm_at_boot_and_the_containers_cgroup()
    {
        var id = await RunSizedAsync(memory: "1g", cpus: "2");
        try
        {
            var boot = await ReadAsync(id);

            // The configured 512 MiB VM shows ~392 MiB; 1152 MiB shows ~1 GiB (what the kernel reserves grows with it).
            boot.MemTotalKib.ShouldBeGreaterThan(900L << 10, boot.ToString());
            boot.MemTotalKib.ShouldBeLessThanOrEqualTo(1152L << 10, boot.ToString());
            boot.Online.ShouldBe("0-1", boot.ToString());
            boot.Nproc.ShouldBe("2", boot.ToString());
            boot.MemoryMax.ShouldBe("1073741824");
            boot.CpuQuota.ShouldBe("200000");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    /// <summary>
    /// `docker run -d --runtime cc -m <paramref name="memory"/> --memory-swap <paramref name="memory"/> --cpus
    /// <paramref name="cpus"/>` of a container that prints the guest kernel and sleeps; returns its id once that line is
    /// in its log (the VM booted and the container runs). A container that never prints it is removed before the
    /// failure propagates; the caller removes the one it gets.
    /// </summary>
    private async Task<string> RunSizedAsync(string memory, string cpus)
    {
        var id = await DockerOkAsync("run", "-d", "--runtime", "cc", "-m", memory, "--memory-swap", memory, "--cpus", cpus,
            Image, "sh", "-c", "uname -r; exec sleep 1234");
        try
        {
            await using var logs = Docker.StartDocker("logs", "-f", id);
            await logs.WaitForStdoutAsync(GuestKernel, RunTimeout, CancellationToken.None);
            return id;
        }
        catch
        {
            await DockerOkAsync("rm", "-f", id);
            throw;
        }
    }

    private sealed record GuestSize(long MemTotalKib, string Online, string Nproc, string MemoryMax, string CpuQuota);

    private async Task<GuestSize> ReadAsync(string id)
    {
        var output = await DockerOkAsync("exec", id, "sh", "-c", $"uname -r; {ReadSize}");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        lines.Length.ShouldBe(6, output);
        lines[0].ShouldBe(GuestKernel, output);
        return new GuestSize(long.Parse(lines[1], CultureInfo.InvariantCulture), lines[2], lines[3], lines[4], lines[5]);
    }
}
