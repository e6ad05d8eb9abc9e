using System.Text.Json;

namespace Cc.Hypervisor.Qemu.Hotplug;

/// <summary>
/// One entry of <c>query-hotpluggable-cpus</c>: the CPU model to plug (<see cref="Type"/>), the topology properties that
/// name the slot (socket-id, core-id, thread-id, node-id, ... as QEMU lists them: passed back verbatim to device_add),
/// and the QOM path of the CPU in it, or null when the slot is empty.
/// </summary>
public sealed record CpuSlot(string Type, IReadOnlyList<KeyValuePair<string, JsonElement>> Props, string? QomPath)
{
    /// <summary>Where QEMU puts devices added with an id: a CPU we plugged is /machine/peripheral/ID.</summary>
    public const string PeripheralPrefix = "/machine/peripheral/";

    /// <summary>QEMU's x86 topology properties, most significant first (node-id is NUMA placement, not position).</summary>
    private static readonly string[] TopologyIds = ["socket-id", "die-id", "cluster-id", "core-id", "thread-id"];

    public bool Occupied => QomPath is not null;

    /// <summary>A CPU that device_add put here (boot CPUs live under /machine/unattached and cannot be unplugged).</summary>
    public string? PluggedId => QomPath is { } path && path.StartsWith(PeripheralPrefix, StringComparison.Ordinal)
        ? path[PeripheralPrefix.Length..]
        : null;

    /// <summary>The slot's topology ids in order of significance, for a stable plug order (QEMU lists slots backwards).</summary>
    public IEnumerable<long> Order => TopologyIds.Select(name =>
        Props.FirstOrDefault(p => p.Key == name).Value is { ValueKind: JsonValueKind.Number } v ? v.GetInt64() : 0);

    /// <summary>The id a CPU plugged into this slot gets: derived from the topology so the same slot gets the same id.</summary>
    public string DeviceId => "cc-vcpu-" + string.Join('-', Order);

    /// <summary>Parses the <c>return</c> of query-hotpluggable-cpus.</summary>
    public static IReadOnlyList<CpuSlot> Parse(JsonElement result)
    {
        List<CpuSlot> slots = [];
        foreach (JsonElement entry in result.EnumerateArray())
        {
            string type = entry.GetProperty("type").GetString() ?? throw new Qmp.QmpProtocolException("query-hotpluggable-cpus: an entry has no type");
            List<KeyValuePair<string, JsonElement>> props = [.. entry.GetProperty("props").EnumerateObject().Select(p => KeyValuePair.Create(p.Name, p.Value.Clone()))];
            string? path = entry.TryGetProperty("qom-path", out JsonElement q) ? q.GetString() : null;
            slots.Add(new CpuSlot(type, props, path));
        }
        return slots;
    }
}
