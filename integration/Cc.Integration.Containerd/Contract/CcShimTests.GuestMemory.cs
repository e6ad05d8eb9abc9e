using System.Globalization;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// The guest's RAM is the pod's (docs/performance.md, "Memory: the guest's own reserve"): a cold VM of the configured
/// 512 MiB, whose hot-plug headroom (virtio-mem above 4 GiB) made the kernel reserve a 64 MiB bounce buffer (SWIOTLB)
/// that none of its virtio devices uses, must show its guest at least 448 MiB (MemTotal, read in the guest). Before
/// `swiotlb=noforce` it showed 393 MiB: 64 MiB of every VM zeroed at boot, on the host's bill, for nothing.
/// </summary>
public sealed partial class CcShimTests
{
    private const long ConfiguredMemoryKib = 512L << 10;
    private const long MostTheGuestKernelKeepsKib = 64L << 10;

    [Theory]
    [InlineData("1.6")]
    public async Task A_cold_vm_gives_its_guest_the_configured_ram_less_no_bounce_buffer(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("guestram");
        await s.RunDetachedAsync(id, "sleep", "600");

        var read = await s.CtrAsync("task", "exec", "--exec-id", "meminfo", id, "sh", "-c",
            "sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo");
        s.ShouldSucceed(read);
        var memTotalKib = long.Parse(read.Stdout.Trim(), CultureInfo.InvariantCulture);

        memTotalKib.ShouldBeGreaterThanOrEqualTo(ConfiguredMemoryKib - MostTheGuestKernelKeepsKib,
            $"MemTotal {memTotalKib} kB of a {ConfiguredMemoryKib} kB VM\n{s.LogSinceStart(40)}");
        await s.KillRemoveAndLeaveNothingAsync(id);
    }
}
