using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cc.Shim.Sandbox;

/// <summary>One host path that an OCI bind mount names, and where it is shared with the guest.</summary>
/// <param name="HostSource">The absolute host path the spec's mount binds.</param>
/// <param name="HostTarget">Where it is bind-mounted under the sandbox's shared directory.</param>
/// <param name="ReadOnly">The spec asks for <c>ro</c>: the host bind is read-only too, so a guest cannot write
/// through the share what its container may not write.</param>
/// <param name="Recursive"><c>rbind</c>: submounts of the source are shared as well.</param>
public sealed record BindShare(string HostSource, string HostTarget, bool ReadOnly, bool Recursive);

/// <summary>
/// The bind mounts of an OCI spec (<c>ctr run --mount type=bind,…</c>, CRI volumes, <c>/etc/hosts</c> and friends) name
/// host paths that do not exist in the guest. Each is shared through the sandbox's shared directory as
/// <c>containers/&lt;id&gt;/mounts/&lt;n&gt;</c> and its source in the spec becomes the guest's view of that path, so the
/// guest's crun binds the shared copy. Other mounts (proc, tmpfs, devpts, …) are the guest kernel's own and stay as
/// they are.
/// </summary>
public static class SpecBindMounts
{
    /// <summary>
    /// The guest tmpfs the agent makes once per VM (= per pod) for the pod's <c>/dev/shm</c>. containerd's CRI binds
    /// the sandbox's host shm directory into every container of the pod; shared through 9p or virtio-fs that would be
    /// a file share, not memory shared between guest processes, so in a CRI container that bind names this guest
    /// directory instead and is not shared from the host (docs/kubernetes.md).
    /// </summary>
    public const string GuestPodShm = "/run/cc/pod/shm";

    /// <summary>The directory of a container's shared bind sources, below the shared directory (host) or its guest mount.</summary>
    public static string Directory(string sharedRoot, string containerId) =>
        $"{sharedRoot.TrimEnd('/')}/containers/{containerId}/mounts";

    /// <summary>
    /// Rewrites every bind mount's source in <paramref name="spec"/> to its guest path and returns the spec and what to
    /// bind on the host. Pure: touches no file system. A bind mount whose source is not absolute is an invalid request.
    /// </summary>
    public static (byte[] Spec, IReadOnlyList<BindShare> Shares) Plan(ReadOnlySpan<byte> spec, string containerId,
        string sharedDirectory)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(spec) as JsonObject ?? throw new InvalidRequestException("config.json is not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidRequestException($"config.json is not valid JSON: {e.Message}", e);
        }
        var shares = new List<BindShare>();
        var inPod = CriAnnotations.Membership(root["annotations"] as JsonObject, containerId).Role != PodRole.None;
        if (root["mounts"] is JsonArray mounts)
        {
            foreach (var mount in mounts.OfType<JsonObject>())
            {
                var options = Options(mount);
                if (!IsBind(mount, options))
                {
                    continue;
                }
                if (inPod && mount["destination"] is JsonValue d && d.TryGetValue<string>(out var destination)
                    && destination.TrimEnd('/') == "/dev/shm")
                {
                    mount["source"] = GuestPodShm;
                    continue;
                }
                var source = mount["source"] is JsonValue s && s.TryGetValue<string>(out var text) ? text : "";
                if (!Path.IsPathRooted(source))
                {
                    throw new InvalidRequestException($"bind mount to {mount["destination"]}: source \"{source}\" is not an absolute host path");
                }
                var name = shares.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
                shares.Add(new BindShare(source, $"{Directory(sharedDirectory, containerId)}/{name}",
                    options.Contains("ro"), options.Contains("rbind")));
                mount["source"] = $"{Directory(HostRootfs.GuestSharedRoot, containerId)}/{name}";
            }
        }
        return (JsonSerializer.SerializeToUtf8Bytes(root, ShimJsonContext.Default.JsonObject), shares);
    }

    private static bool IsBind(JsonObject mount, HashSet<string> options) =>
        (mount["type"] is JsonValue t && t.TryGetValue<string>(out var type) && type == "bind")
        || options.Contains("bind") || options.Contains("rbind");

    private static HashSet<string> Options(JsonObject mount)
    {
        var result = new HashSet<string>(StringComparer.Ordinal);
        if (mount["options"] is JsonArray options)
        {
            foreach (var option in options)
            {
                if (option is JsonValue v && v.TryGetValue<string>(out var text))
                {
                    result.Add(text);
                }
            }
        }
        return result;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonObject))]
internal sealed partial class ShimJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
