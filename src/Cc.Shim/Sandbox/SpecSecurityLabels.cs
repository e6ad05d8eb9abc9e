using System.Text.Json;

namespace Cc.Shim.Sandbox;

/// <summary>
/// The Linux security module labels a config.json may carry: <c>process.apparmorProfile</c>,
/// <c>process.selinuxLabel</c> and <c>linux.mountLabel</c>. They name profiles and contexts of the host's policy,
/// which the guest neither has nor loads; the VM is the isolation boundary. The runtime ignores them: the
/// shim logs each one it sees (its log is containerd's), the agent removes them before crun reads the spec
/// (src/Cc.Agent/Runtime/OciSpec.cs), and a container that carries them runs as one that does not. Never an error.
/// </summary>
public static class SpecSecurityLabels
{
    /// <summary>The labels present in <paramref name="configJson"/>, as (field, value); none for a malformed document
    /// (SandboxSpecParser reports that).</summary>
    public static IReadOnlyList<(string Field, string Value)> Find(ReadOnlySpan<byte> configJson)
    {
        var found = new List<(string, string)>();
        try
        {
            using var document = JsonDocument.Parse(configJson.ToArray());
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return found;
            }
            Add(found, document.RootElement, "process", "apparmorProfile");
            Add(found, document.RootElement, "process", "selinuxLabel");
            Add(found, document.RootElement, "linux", "mountLabel");
        }
        catch (JsonException)
        {
            // Malformed: the parser of the whole spec refuses it with the reason.
        }
        return found;
    }

    private static void Add(List<(string, string)> found, JsonElement root, string parent, string member)
    {
        if (root.TryGetProperty(parent, out var owner) && owner.ValueKind == JsonValueKind.Object
            && owner.TryGetProperty(member, out var value) && value.ValueKind == JsonValueKind.String
            && value.GetString() is { Length: > 0 } text)
        {
            found.Add(($"{parent}.{member}", text));
        }
    }
}
