using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cc.Shim.Sandbox;

/// <summary>
/// Reads a <see cref="SandboxSpec"/> and a container's <see cref="PodMembership"/> from config.json. Pure: touches no
/// file; malformed input is an <see cref="InvalidRequestException"/> naming the field.
/// </summary>
public static class SandboxSpecParser
{
    public const string HostNetworkUnsupported =
        "host network pods are not supported by io.containerd.cc.v2: the pod runs in its own VM";

    /// <summary>Parses the whole config.json once: the container's role and, for the VM's first container, the pod.</summary>
    public static (SandboxSpec Sandbox, PodMembership Membership) Parse(ReadOnlySpan<byte> configJson, string containerId)
    {
        var root = ParseObject(configJson);
        var annotations = root["annotations"] as JsonObject;
        var membership = CriAnnotations.Membership(annotations, containerId);
        var linux = root["linux"] as JsonObject;
        var isSandbox = membership.Role == PodRole.Sandbox;
        var spec = new SandboxSpec(
            IsCriSandbox: isSandbox,
            Pod: isSandbox
                ? new PodIdentity(CriAnnotations.Text(annotations, CriAnnotations.SandboxName) ?? "",
                    CriAnnotations.Text(annotations, CriAnnotations.SandboxNamespace) ?? "",
                    CriAnnotations.Text(annotations, CriAnnotations.SandboxUid) ?? "")
                : null,
            Hostname: Hostname(root, containerId),
            Network: Network(linux),
            Sysctls: Sysctls(linux),
            ResolvConfPath: ResolvConf(root),
            Resources: PodSizing(annotations, linux, isSandbox));
        return (spec, membership);
    }

    /// <summary>
    /// The launch's admission rule: a CRI sandbox without a network namespace entry is a <c>hostNetwork</c> pod, which a
    /// VM cannot be (its interfaces are the host's); refused before anything is started or touched.
    /// </summary>
    public static void CheckLaunchable(SandboxSpec spec)
    {
        if (spec.IsCriSandbox && !spec.Network.HasNamespace)
        {
            throw new PreconditionFailedException(HostNetworkUnsupported);
        }
    }

    private static JsonObject ParseObject(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonNode.Parse(json) as JsonObject ?? throw new InvalidRequestException("config.json is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidRequestException($"config.json is not valid JSON: {e.Message}", e);
        }
    }

    private static string Hostname(JsonObject root, string containerId)
    {
        if (root["hostname"] is JsonValue value && value.TryGetValue<string>(out var hostname) && hostname.Length > 0)
        {
            if (System.Text.Encoding.UTF8.GetByteCount(hostname) > SandboxSpec.MaxHostnameLength)
            {
                throw new InvalidRequestException($"hostname \"{hostname}\" is longer than {SandboxSpec.MaxHostnameLength} bytes");
            }
            return hostname;
        }
        // Container ids are ASCII (containerd's identifier rule), so cutting characters cuts bytes.
        return containerId.Length > SandboxSpec.MaxHostnameLength ? containerId[..SandboxSpec.MaxHostnameLength] : containerId;
    }

    private static SandboxNetwork Network(JsonObject? linux)
    {
        if (linux?["namespaces"] is not JsonArray namespaces)
        {
            // No namespaces list at all: the runtime would run the container in the host's namespaces.
            return SandboxNetwork.Host;
        }
        foreach (var entry in namespaces.OfType<JsonObject>())
        {
            if (entry["type"] is JsonValue t && t.TryGetValue<string>(out var type) && type == "network")
            {
                var path = entry["path"] is JsonValue p && p.TryGetValue<string>(out var text) && text.Length > 0 ? text : null;
                if (path is not null && !Path.IsPathRooted(path))
                {
                    throw new InvalidRequestException($"network namespace path \"{path}\" is not absolute");
                }
                return path is null ? SandboxNetwork.Fresh : new SandboxNetwork(true, path);
            }
        }
        return SandboxNetwork.Host;
    }

    private static Dictionary<string, string> Sysctls(JsonObject? linux)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (linux?["sysctl"] is JsonObject sysctl)
        {
            foreach (var (name, value) in sysctl)
            {
                if (value is not JsonValue v || !v.TryGetValue<string>(out var text))
                {
                    throw new InvalidRequestException($"linux.sysctl \"{name}\": the value is not a string");
                }
                result[name] = text;
            }
        }
        return result;
    }

    private static string? ResolvConf(JsonObject root)
    {
        if (root["mounts"] is not JsonArray mounts)
        {
            return null;
        }
        foreach (var mount in mounts.OfType<JsonObject>())
        {
            if (mount["destination"] is JsonValue d && d.TryGetValue<string>(out var destination) && destination == "/etc/resolv.conf"
                && mount["source"] is JsonValue s && s.TryGetValue<string>(out var source) && Path.IsPathRooted(source))
            {
                return source;
            }
        }
        return null;
    }

    /// <summary>
    /// The CRI sandbox annotations (kubelet's sums of the pod's limits); a plain container (<c>docker run -m --cpus</c>,
    /// <c>ctr run --memory-limit</c>) announces none, so its own <c>linux.resources</c> size its VM.
    /// </summary>
    private static PodResources PodSizing(JsonObject? annotations, JsonObject? linux, bool isSandbox)
    {
        var announced = new PodResources(
            Number<ulong>(annotations, CriAnnotations.SandboxCpuPeriod),
            Number<long>(annotations, CriAnnotations.SandboxCpuQuota),
            Number<ulong>(annotations, CriAnnotations.SandboxCpuShares),
            Number<long>(annotations, CriAnnotations.SandboxMemory));
        return isSandbox || announced != PodResources.None ? announced : ResourceLimits.FromLinux(linux);
    }

    /// <summary>The container's own limits (its <c>linux.resources</c>), which the VM's live size follows.</summary>
    public static PodResources ContainerLimits(ReadOnlySpan<byte> configJson) =>
        ResourceLimits.FromLinux(ParseObject(configJson)["linux"] as JsonObject);

    private static T? Number<T>(JsonObject? annotations, string key) where T : struct, IBinaryInteger<T>
    {
        if (CriAnnotations.Text(annotations, key) is not { } text)
        {
            return null;
        }
        return T.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidRequestException($"annotation {key} = \"{text}\" is not an integer");
    }
}
