using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cc.Shim.Cli;

/// <summary>
/// What a <c>shim delete</c> needs after the daemon died, kept as <c>cc-state.json</c> in each task's bundle
/// (docs/reliability.md, "The state file"). <c>start</c> writes it with the run directory resolved from the
/// configuration containerd named in the runtime options (ConfigPath), so the daemon and <c>delete</c> use the
/// directory the operator configured, not only /etc/cc's; the daemon adds the VMM's identity once QEMU runs.
/// Mounts are not listed: they are whatever /proc/self/mountinfo shows below <see cref="RunDirectory"/>, which cannot go
/// stale. The network record stays <c>network.json</c> in the run directory, written before the first change.
/// </summary>
public sealed record ShimState
{
    public const string FileName = "cc-state.json";

    [JsonPropertyName("version")] public int Version { get; init; } = 1;

    [JsonPropertyName("namespace")] public string Namespace { get; init; } = "";

    /// <summary>The pod's group id: the task whose daemon serves this one (the CRI sandbox, or the task itself).</summary>
    [JsonPropertyName("sandbox_id")] public string SandboxId { get; init; } = "";

    /// <summary>&lt;run_dir&gt;/&lt;namespace&gt;/&lt;sandbox_id&gt;: shared/, console.log, vmm.pid, network.json, vm/.</summary>
    [JsonPropertyName("run_directory")] public string RunDirectory { get; init; } = "";

    /// <summary>QEMU's pid; 0 until the VM of this bundle's daemon runs (only the daemon's own bundle gets it).</summary>
    [JsonPropertyName("vmm_pid")] public int VmmPid { get; init; }

    /// <summary>Field 22 of /proc/&lt;pid&gt;/stat (start time in clock ticks since boot): tells our QEMU from a recycled pid.</summary>
    [JsonPropertyName("vmm_start_time")] public ulong VmmStartTime { get; init; }

    /// <summary>Writes the state in <paramref name="bundle"/> by temp file + rename: a reader sees the old or the new file.</summary>
    public void Write(string bundle) =>
        BundleFiles.WriteAtomically(bundle, FileName, JsonSerializer.Serialize(this, ShimStateContext.Default.ShimState));

    /// <summary>The state in <paramref name="bundle"/>; null when absent or unreadable (a bundle of an older shim).</summary>
    public static ShimState? Read(string bundle)
    {
        var path = Path.Combine(bundle, FileName);
        try
        {
            return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllBytes(path), ShimStateContext.Default.ShimState) : null;
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            return null;
        }
    }

    /// <summary>Records the VMM in <paramref name="bundle"/>'s state, keeping the rest; no state file, nothing to do.</summary>
    public static void RecordVmm(string bundle, int pid)
    {
        if (Read(bundle) is { } state)
        {
            (state with { VmmPid = pid, VmmStartTime = ProcessStartTime(pid) ?? 0 }).Write(bundle);
        }
    }

    /// <summary>Field 22 of /proc/&lt;pid&gt;/stat, or null when the process is gone.</summary>
    public static ulong? ProcessStartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the parenthesised comm (which may hold spaces): state is field 3, starttime field 22.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields.Length > 19 && ulong.TryParse(fields[19], System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var start) ? start : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

[JsonSerializable(typeof(ShimState))]
internal sealed partial class ShimStateContext : JsonSerializerContext;
