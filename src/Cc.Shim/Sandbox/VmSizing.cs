namespace Cc.Shim.Sandbox;

/// <summary>
/// How big the pod's VM is (docs/kubernetes.md, "VM size"): the configured size is the floor; a pod whose limits need
/// more gets more. memory = max(memory_mib, pod memory limit + <see cref="GuestOverheadMiB"/>), vCPUs = max(vcpus,
/// ceil(cpu quota / period)). No configuration key caps either today, so a pod's announced limits are taken as given.
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
}
