using System.Text.Json.Nodes;

namespace Cc.Shim.Sandbox;

/// <summary>What a container is in its pod, as the CRI annotations of its config.json say (protocol.md §2.9.1).</summary>
public enum PodRole
{
    /// <summary>No CRI annotation: a plain container (<c>ctr run</c>), alone in its VM.</summary>
    None,

    /// <summary>The pod's sandbox (pause) container: it owns the pod's namespaces in the guest.</summary>
    Sandbox,

    /// <summary>An app container of a CRI pod: it joins the sandbox container's namespaces.</summary>
    Container,
}

/// <summary>A container's role and, for an app container, the id of its pod's sandbox container.</summary>
public sealed record PodMembership(PodRole Role, string SandboxContainerId)
{
    public static PodMembership Standalone { get; } = new(PodRole.None, "");
}

/// <summary>
/// The annotation keys the CRI producers write (containerd v1.6/1.7 <c>pkg/cri/annotations</c>, CRI-O, dockershim) and
/// what they say about grouping. The first producer whose container-type key is present decides.
/// </summary>
public static class CriAnnotations
{
    public const string ContainerType = "io.kubernetes.cri.container-type";
    public const string SandboxId = "io.kubernetes.cri.sandbox-id";
    public const string SandboxName = "io.kubernetes.cri.sandbox-name";
    public const string SandboxNamespace = "io.kubernetes.cri.sandbox-namespace";
    public const string SandboxUid = "io.kubernetes.cri.sandbox-uid";
    public const string SandboxCpuPeriod = "io.kubernetes.cri.sandbox-cpu-period";
    public const string SandboxCpuQuota = "io.kubernetes.cri.sandbox-cpu-quota";
    public const string SandboxCpuShares = "io.kubernetes.cri.sandbox-cpu-shares";
    public const string SandboxMemory = "io.kubernetes.cri.sandbox-memory";

    /// <summary>
    /// One producer's keys: its container-type key, the values of that key for the sandbox and for an app container,
    /// and the key that names an app container's sandbox.
    /// </summary>
    public readonly record struct Producer(string TypeKey, string SandboxValue, string ContainerValue, string SandboxIdKey);

    /// <summary>Every producer, in the order we trust them: containerd CRI, CRI-O, dockershim.</summary>
    public static IReadOnlyList<Producer> Producers { get; } =
    [
        new(ContainerType, "sandbox", "container", SandboxId),
        new("io.kubernetes.cri-o.ContainerType", "sandbox", "container", "io.kubernetes.cri-o.SandboxID"),
        new("io.kubernetes.docker.type", "podsandbox", "container", "io.kubernetes.sandbox.id"),
    ];

    /// <summary>
    /// The container's role from <paramref name="annotations"/> (the spec's <c>annotations</c> object, or null). An app
    /// container without a sandbox id, or a container type none of the producers uses, is an invalid request: joining
    /// the wrong namespaces silently would be worse.
    /// </summary>
    public static PodMembership Membership(JsonObject? annotations, string containerId)
    {
        foreach (var (typeKey, sandboxValue, containerValue, sandboxIdKey) in Producers)
        {
            if (Text(annotations, typeKey) is not { } type)
            {
                continue;
            }
            if (type == sandboxValue)
            {
                return new PodMembership(PodRole.Sandbox, "");
            }
            if (type != containerValue)
            {
                throw new InvalidRequestException($"container {containerId}: annotation {typeKey} = \"{type}\" is neither \"{sandboxValue}\" nor \"{containerValue}\"");
            }
            var sandboxId = Text(annotations, sandboxIdKey);
            if (string.IsNullOrEmpty(sandboxId) || sandboxId == containerId)
            {
                throw new InvalidRequestException($"container {containerId}: app container without a sandbox id ({sandboxIdKey})");
            }
            return new PodMembership(PodRole.Container, sandboxId);
        }
        return PodMembership.Standalone;
    }

    /// <summary>The string value of <paramref name="key"/>, or null when absent or not a string.</summary>
    public static string? Text(JsonObject? annotations, string key) =>
        annotations?[key] is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;
}
