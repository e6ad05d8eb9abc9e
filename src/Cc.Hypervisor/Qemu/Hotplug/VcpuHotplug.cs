using System.Text.Json;
using Cc.Hypervisor.Qmp;

namespace Cc.Hypervisor.Qemu.Hotplug;

/// <summary>
/// vCPU hot-plug over QMP on q35 (ACPI CPU hot-plug): <c>query-hotpluggable-cpus</c> lists the slots <c>-smp
/// N,maxcpus=M</c> made; <c>device_add</c> with a slot's type and props plugs a CPU (present in the guest at once,
/// offline until the guest onlines it); <c>device_del</c> asks the guest to eject one, which it does after offlining
/// it, so an unplug is done only when the slot shows empty again.
/// </summary>
public sealed class VcpuHotplug(IQmpExecutor qmp, TimeProvider time, TimeSpan bound)
{
    /// <summary>How often an unplug looks whether the guest has ejected the CPU yet.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>The slots as QEMU sees them now.</summary>
    public async Task<IReadOnlyList<CpuSlot>> QuerySlotsAsync(CancellationToken cancellationToken) =>
        CpuSlot.Parse(await qmp.ExecuteAsync("query-hotpluggable-cpus", null, cancellationToken).ConfigureAwait(false));

    /// <summary>Plugs or unplugs until <paramref name="target"/> CPUs are present (or the bound passes); returns the count.</summary>
    public async Task<int> SetCountAsync(int target, CancellationToken cancellationToken)
    {
        var plan = VcpuPlan.For(await QuerySlotsAsync(cancellationToken).ConfigureAwait(false), target);
        foreach (CpuSlot slot in plan.Plug)
        {
            Dictionary<string, JsonElement> arguments = new(StringComparer.Ordinal)
            {
                ["driver"] = JsonSerializer.SerializeToElement(slot.Type, QmpJsonContext.Default.String),
                ["id"] = JsonSerializer.SerializeToElement(slot.DeviceId, QmpJsonContext.Default.String),
            };
            foreach (var (name, value) in slot.Props)
            {
                arguments[name] = value;
            }
            await qmp.ExecuteAsync("device_add", JsonSerializer.SerializeToElement(arguments,
                QmpJsonContext.Default.DictionaryStringJsonElement), cancellationToken).ConfigureAwait(false);
        }
        foreach (CpuSlot slot in plan.Unplug)
        {
            Dictionary<string, JsonElement> arguments = new(StringComparer.Ordinal)
            {
                ["id"] = JsonSerializer.SerializeToElement(slot.PluggedId!, QmpJsonContext.Default.String),
            };
            await qmp.ExecuteAsync("device_del", JsonSerializer.SerializeToElement(arguments,
                QmpJsonContext.Default.DictionaryStringJsonElement), cancellationToken).ConfigureAwait(false);
        }
        long started = time.GetTimestamp();
        while (true)
        {
            var slots = await QuerySlotsAsync(cancellationToken).ConfigureAwait(false);
            int present = slots.Count(s => s.Occupied);
            // A plug is complete at once; an unplug when the guest has ejected the CPU.
            if (plan.Unplug.Count == 0 || present <= target || time.GetElapsedTime(started) >= bound)
            {
                return present;
            }
            await Task.Delay(PollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }
}
