namespace Cc.Hypervisor.Qemu.Hotplug;

/// <summary>
/// Which slots to fill or empty so that the VM has <c>target</c> vCPUs. Pure. Plugs fill the lowest empty slots in
/// topology order (the guest numbers CPUs in the order they arrive, so cpu1, cpu2, ... stay dense); unplugs take back
/// the highest CPUs that device_add plugged, never a boot CPU. A target beyond the slots is clamped by the caller.
/// </summary>
public sealed record VcpuPlan(IReadOnlyList<CpuSlot> Plug, IReadOnlyList<CpuSlot> Unplug)
{
    public static VcpuPlan For(IReadOnlyList<CpuSlot> slots, int target)
    {
        var ordered = slots.OrderBy(s => s.Order, OrderComparer.Instance).ToList();
        int present = ordered.Count(s => s.Occupied);
        if (target > present)
        {
            return new VcpuPlan([.. ordered.Where(s => !s.Occupied).Take(target - present)], []);
        }
        if (target < present)
        {
            return new VcpuPlan([], [.. ordered.Where(s => s.PluggedId is not null).Reverse().Take(present - target)]);
        }
        return new VcpuPlan([], []);
    }

    private sealed class OrderComparer : IComparer<IEnumerable<long>>
    {
        public static OrderComparer Instance { get; } = new();

        public int Compare(IEnumerable<long>? x, IEnumerable<long>? y)
        {
            foreach (var (a, b) in (x ?? []).Zip(y ?? []))
            {
                if (a != b)
                {
                    return a.CompareTo(b);
                }
            }
            return 0;
        }
    }
}
