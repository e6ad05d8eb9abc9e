using System.Text.Json;
using Cc.Shim.Sandbox;

namespace Cc.Shim.Cli;

/// <summary>
/// Decides which shim daemon (and so which VM) a task belongs to (protocol.md §2.9): every container of a pod carries
/// its sandbox's id in an annotation of its OCI spec; the pause container carries its own id there. A task without
/// such an annotation (plain <c>ctr run</c>) is a pod of its own.
/// </summary>
public static class SandboxGrouping
{
    /// <summary>Sandbox-id annotation keys, in the order we trust them (<see cref="CriAnnotations.Producers"/>).</summary>
    private static readonly IReadOnlyList<string> s_sandboxIdKeys = [.. CriAnnotations.Producers.Select(p => p.SandboxIdKey)];

    /// <summary>The group id of <paramref name="taskId"/> from the annotations of its bundle's spec.</summary>
    public static string GroupId(string taskId, IReadOnlyDictionary<string, string> annotations)
    {
        if (IsSandbox(annotations))
        {
            return taskId;
        }
        foreach (var key in s_sandboxIdKeys)
        {
            if (annotations.TryGetValue(key, out var value) && value.Length > 0)
            {
                return value;
            }
        }
        return taskId;
    }

    /// <summary>True for a pod's sandbox (pause) container and for a task with no pod annotations at all.</summary>
    public static bool IsSandbox(IReadOnlyDictionary<string, string> annotations)
    {
        foreach (var producer in CriAnnotations.Producers)
        {
            if (annotations.TryGetValue(producer.TypeKey, out var value))
            {
                return value == producer.SandboxValue;
            }
        }
        return true;
    }

    /// <summary>
    /// The <c>annotations</c> object of <c>config.json</c> in <paramref name="bundle"/>; empty when the file or the object
    /// is missing (2.x "shim" sandbox bundles have no config.json).
    /// </summary>
    public static IReadOnlyDictionary<string, string> ReadAnnotations(string bundle)
    {
        var path = Path.Combine(bundle, "config.json");
        if (!File.Exists(path))
        {
            return new Dictionary<string, string>();
        }
        using var stream = File.OpenRead(path);
        using var doc = JsonDocument.Parse(stream);
        return ReadAnnotations(doc.RootElement);
    }

    public static IReadOnlyDictionary<string, string> ReadAnnotations(JsonElement spec)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (spec.ValueKind == JsonValueKind.Object
            && spec.TryGetProperty("annotations", out var annotations)
            && annotations.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in annotations.EnumerateObject())
            {
                if (property.Value.ValueKind == JsonValueKind.String)
                {
                    result[property.Name] = property.Value.GetString()!;
                }
            }
        }
        return result;
    }
}
