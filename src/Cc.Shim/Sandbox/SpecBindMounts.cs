using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cc.Shim.Sandbox;

/// <summary>One host path that an OCI bind mount names, and where it is shared with the guest.</summary>
/// <param name="HostSource">The absolute host path the spec's mount binds.</param>
/// <param name="HostTarget">Where it is bind-mounted under the sandbox's shared directory.</param>
/// <param name="ReadOnly">The spec asks for <c>ro</c>: the host bind is read-only too, so a guest cannot write
/// through the share what its container may not write.</param>
/// <param name="Recursive"><c>rbind</c>: submounts of the source are shared as well.</param>
/// <param name="Private">The spec asks for <c>private</c> or <c>rprivate</c> propagation (CRI's default): a mount the host
/// makes below the source later does not reach the container. Otherwise it does when the host's mount is shared
/// (<c>rslave</c>, <c>rshared</c>: host to container only, docs/kubernetes.md).</param>
public sealed record BindShare(string HostSource, string HostTarget, bool ReadOnly, bool Recursive, bool Private = false);

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
    /// bind on the host. Pure: touches no file system (<paramref name="hasSubmounts"/> answers for the host's mount
    /// table; null = no source has submounts). A bind mount whose source is not absolute is an invalid request.
    /// </summary>
    /// <remarks>
    /// A read-only <c>rbind</c> is read-only on its top mount only: submounts of the source stay writable (runc's
    /// non-recursive <c>ro</c>; <c>rro</c> is the recursive one). The host bind keeps exactly that, but the guest sees
    /// the whole source through one 9p share, submounts as plain directories, so a guest-side <c>ro</c> would make them
    /// read-only too. For such a source the guest's <c>ro</c> is dropped and the host's read-only top mount is what
    /// refuses writes (EROFS, through the share); a source without submounts keeps its <c>ro</c> in the guest as well.
    /// </remarks>
    public static (byte[] Spec, IReadOnlyList<BindShare> Shares) Plan(ReadOnlySpan<byte> spec, string containerId,
        string sharedDirectory, Func<string, bool>? hasSubmounts = null)
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
                var share = new BindShare(source, $"{Directory(sharedDirectory, containerId)}/{name}",
                    options.Contains("ro"), options.Contains("rbind"), options.Contains("rprivate") || options.Contains("private"));
                shares.Add(share);
                mount["source"] = $"{Directory(HostRootfs.GuestSharedRoot, containerId)}/{name}";
                if (share.ReadOnly && share.Recursive && hasSubmounts?.Invoke(source) == true)
                {
                    mount["options"] = new JsonArray(((JsonArray)mount["options"]!)
                        .Where(o => !(o is JsonValue v && v.TryGetValue<string>(out var text) && text == "ro"))
                        .Select(o => o?.DeepClone()).ToArray());
                }
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
