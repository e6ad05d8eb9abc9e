using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cc.Shim.Sandbox;

/// <summary>
/// A container's own limits from an OCI <c>LinuxResources</c> object: <c>linux.resources</c> of its config.json at Create,
/// the document Task Update carries later. Only what sizes the VM is read (memory.limit, cpu.quota/period/shares); the
/// agent applies the whole document to the guest cgroup. Pure.
/// </summary>
public static class ResourceLimits
{
    /// <summary>The <c>linux.resources</c> of a parsed config.json's <c>linux</c> object (none: no limits).</summary>
    public static PodResources FromLinux(JsonObject? linux) => From(linux?["resources"] as JsonObject);

    /// <summary>Task Update's LinuxResources JSON; a document that is not a JSON object is InvalidArgument.</summary>
    public static PodResources FromUpdate(ReadOnlySpan<byte> resourcesJson)
    {
        try
        {
            return From(JsonNode.Parse(resourcesJson) as JsonObject
                ?? throw new InvalidRequestException("the update's resources are not a JSON object"));
        }
        catch (JsonException e)
        {
            throw new InvalidRequestException($"the update's resources are not valid JSON: {e.Message}", e);
        }
    }

    public static PodResources From(JsonObject? resources)
    {
        var cpu = resources?["cpu"] as JsonObject;
        var memory = resources?["memory"] as JsonObject;
        return new PodResources(
            Number<ulong>(cpu, "period"),
            Number<long>(cpu, "quota"),
            Number<ulong>(cpu, "shares"),
            Number<long>(memory, "limit"));
    }

    private static T? Number<T>(JsonObject? section, string name) where T : struct
    {
        if (section?[name] is not JsonValue value)
        {
            return null;
        }
        return value.TryGetValue<T>(out var number)
            ? number
            : throw new InvalidRequestException($"resources {name} = {value.ToJsonString()} is not a {typeof(T).Name} number");
    }
}
