namespace Cc.Shim.Sandbox;

/// <summary>
/// How big the pod's VM is (docs/kubernetes.md, "VM size"): the configured size is the floor; a pod whose limits need
/// more gets more. memory = max(memory_mib, pod memory limit + <see cref="GuestOverheadMiB"/>), vCPUs = max(vcpus,
/// ceil(cpu quota / period)). <c>hypervisor.max_memory_mib</c> and <c>max_vcpus</c> cap only what a running VM can grow
/// to (docs/hotplug.md); a pod's limits announced at boot are taken as given.
/// </summary>
public static class VmSizing
{
    /// <summary>
    /// What the guest itself uses besides the pod's containers: kernel, initramfs (agent, crun, busybox) held in RAM,
    /// page tables and the 9p/virtio-fs caches. Added to the pod's memory limit so a container at its limit is
    /// OOM-killed by its cgroup, not by the guest running out.
    /// </summary>
    public const int GuestOverheadMiB = 128;

    public static (int MemoryMiB, int Vcpus) Compute(int configuredMemoryMiB, int configuredVcpus, PodResources resources)
    {
        var memory = configuredMemoryMiB;
        if (resources.MemoryLimitMiB is { } limit)
        {
            memory = (int)Math.Min(int.MaxValue, Math.Max(memory, limit + GuestOverheadMiB));
        }
        var vcpus = configuredVcpus;
        if (resources.CpuLimit is { } cpus)
        {
            vcpus = Math.Max(vcpus, cpus);
        }
        return (memory, vcpus);
    }

    /// <summary>
    /// The size a running pod's VM should have for its containers' current limits (docs/hotplug.md): the sum of the
    /// memory limits plus the guest's overhead, and the sum of the CPU limits rounded up, each at least the configured
    /// size. A container without a limit adds nothing: it may use what the VM has.
    /// </summary>
    public static (int MemoryMiB, int Vcpus) ForContainers(int configuredMemoryMiB, int configuredVcpus,
        IEnumerable<PodResources> containers)
    {
        long memoryMiB = 0;
        decimal cpus = 0;
        bool anyMemory = false, anyCpu = false;
        foreach (var limits in containers)
        {
            if (limits.MemoryLimitMiB is { } mib)
            {
                memoryMiB += mib;
                anyMemory = true;
            }
            if (limits.CpuQuota is > 0 && limits.CpuPeriod is > 0)
            {
                cpus += (decimal)limits.CpuQuota.Value / limits.CpuPeriod.Value;
                anyCpu = true;
            }
        }
        var memory = anyMemory ? (int)Math.Min(int.MaxValue, Math.Max(configuredMemoryMiB, memoryMiB + GuestOverheadMiB)) : configuredMemoryMiB;
        var vcpus = anyCpu ? Math.Max(configuredVcpus, (int)Math.Min(int.MaxValue, Math.Ceiling(cpus))) : configuredVcpus;
        return (memory, vcpus);
    }
}
