using System.Text.Json;
using System.Text.Json.Nodes;
using Cc.Agent.Containers;

namespace Cc.Agent.Runtime;

// Rewrites of the OCI documents the host sends. JsonNode keeps every field we do not touch exactly
// as sent and needs no serialization metadata (AOT-clean).
internal static class OciSpec
{
    // The bundle's config.json: root.path = the guest rootfs, process.terminal = the stdio option.
    // Namespace paths and hooks name things on the host (its netns files, its hook binaries) that do
    // not exist in the guest, so they are dropped: the container gets fresh namespaces of the same
    // types and no hooks. A container of a CRI pod then gets the pod's namespaces (PodNamespaces).
    // A standalone container whose network namespace has a path joins the pod's network namespace
    // on the host, which the VM mirrors (docs/networking.md): it runs in the guest's root network
    // namespace, where the agent configured the pod's interfaces.
    public static byte[] RewriteConfig(ReadOnlySpan<byte> json, string rootfsPath, bool terminal) =>
        RewriteConfig(json, rootfsPath, terminal, PodNamespaces.Standalone);

    public static byte[] RewriteConfig(ReadOnlySpan<byte> json, string rootfsPath, bool terminal, PodNamespaces pod) =>
        JsonSerializer.SerializeToUtf8Bytes(Rewrite(json, rootfsPath, terminal, pod), OciJsonContext.Default.JsonObject);

    // The same for a container whose guest bundle is bundle: when the spec has annotations, their file (to be written
    // as bundle/annotations.json before crun runs) and its read-only mount in the config (AnnotationsFile). The written
    // config has no hooks (Rewrite drops them), which is what lets the agent start a container without `crun start`
    // (ExecFifo: crun start would run poststart hooks).
    public static (byte[] Config, byte[]? Annotations) RewriteConfig(ReadOnlySpan<byte> json,
        string rootfsPath, bool terminal, PodNamespaces pod, string bundle)
    {
        var spec = Rewrite(json, rootfsPath, terminal, pod);
        var annotations = AnnotationsFile.Render(spec);
        if (annotations is not null)
        {
            AnnotationsFile.AddMount(spec, Path.Combine(bundle, AnnotationsFile.BundleName));
        }
        return (JsonSerializer.SerializeToUtf8Bytes(spec, OciJsonContext.Default.JsonObject), annotations);
    }

    private static JsonObject Rewrite(ReadOnlySpan<byte> json, string rootfsPath, bool terminal, PodNamespaces pod)
    {
        var spec = ParseObject(json, "OCI spec");
        var process = spec["process"] as JsonObject
            ?? throw AgentErrorException.Invalid("malformed OCI spec: no \"process\" object");
        if (process["args"] is not JsonArray { Count: > 0 })
        {
            throw AgentErrorException.Invalid("malformed OCI spec: process.args is empty");
        }

        process["terminal"] = terminal;
        RemoveSecurityLabels(spec, process);
        if (spec["root"] is not JsonObject root)
        {
            root = new JsonObject();
            spec["root"] = root;
        }

        root["path"] = rootfsPath;
        NormalizeVersion(spec);
        spec.Remove("hooks");
        if (pod.Role != PodRole.None)
        {
            // Reads the host's paths to decide what to join, then replaces every one of them.
            PodNamespaces.Apply(spec, pod);
        }
        else if (spec["linux"] is JsonObject linux && linux["namespaces"] is JsonArray namespaces)
        {
            var joinsPodNetwork = false;
            foreach (var ns in namespaces.OfType<JsonObject>().ToList())
            {
                if (ns["type"]?.GetValue<string>() == "network" && ns["path"] is not null)
                {
                    namespaces.Remove(ns);
                    joinsPodNetwork = true;
                }
                ns.Remove("path");
            }
            // As for a pod's containers: its net.* sysctls were applied to the guest's root network namespace by
            // CreateSandbox (the VM's first container's spec), and crun refuses them without a network namespace of the
            // container's own ("requires a new network namespace"; Docker sets net.ipv4.ip_unprivileged_port_start).
            if (joinsPodNetwork && linux["sysctl"] is JsonObject sysctl)
            {
                foreach (var name in sysctl.Select(p => p.Key).Where(PodNamespaces.IsNetworkSysctl).ToList())
                {
                    sysctl.Remove(name);
                }
            }
        }

        AddCgroupNamespace(spec);
        return spec;
    }

    // AppArmor profiles and SELinux labels name the host's policy. The guest loads no policy, but its kernel (Debian's:
    // CONFIG_LSM lists apparmor, /sys/module/apparmor/parameters/enabled reads Y) has AppArmor on, so crun would try
    // to switch to a profile the guest lacks ("docker-default") and fail the create. The VM isolates the pod, so they
    // are removed; the shim logs each one it saw (SpecSecurityLabels).
    private static void RemoveSecurityLabels(JsonObject spec, JsonObject process)
    {
        process.Remove("apparmorProfile");
        process.Remove("selinuxLabel");
        if (spec["linux"] is JsonObject linux)
        {
            linux.Remove("mountLabel");
        }
    }

    // The guest is cgroup v2. Without a cgroup namespace crun mounts the guest's whole hierarchy at the container's
    // /sys/fs/cgroup, so a container reads the guest root's files, not its own (no memory.max, the wrong cpu.max).
    // Docker (cgroupns=private, its default on a v2 host) and containerd's CRI ask for one only when the host is v2,
    // which the host side of a VM need not be: every container gets a fresh cgroup namespace, rooted at its own
    // cgroup, as runc gives it on a v2 host. A cgroup namespace only changes that view, never the limits.
    private static void AddCgroupNamespace(JsonObject spec)
    {
        if (spec["linux"] is not JsonObject linux)
        {
            linux = new JsonObject();
            spec["linux"] = linux;
        }

        if (linux["namespaces"] is not JsonArray namespaces)
        {
            namespaces = new JsonArray();
            linux["namespaces"] = namespaces;
        }

        if (!namespaces.OfType<JsonObject>().Any(ns => ns["type"] is JsonValue t && t.TryGetValue<string>(out var type) && type == "cgroup"))
        {
            namespaces.Add((JsonNode)new JsonObject { ["type"] = "cgroup" });
        }
    }

    // The guest's crun (Debian bookworm, 1.8.x) refuses any ociVersion that is not 1.0.x ("unknown version
    // specified"), while containerd 1.7 and later write runtime-spec 1.1 (e.g. "1.1.0-rc.1"). Every 1.1
    // field is optional and additive, and crun 1.8 already implements the ones containerd fills in, so a
    // 1.x document is presented as 1.0.2; other majors are left for crun to refuse with its own error.
    internal const string GuestRuntimeSpecVersion = "1.0.2";

    private static void NormalizeVersion(JsonObject spec)
    {
        if (spec["ociVersion"] is JsonValue value && value.TryGetValue<string>(out var version)
            && version.StartsWith("1.", StringComparison.Ordinal) && !version.StartsWith("1.0", StringComparison.Ordinal))
        {
            spec["ociVersion"] = GuestRuntimeSpecVersion;
        }
    }

    // An exec's process.json for `crun exec --process`: process.terminal = the stdio option.
    public static byte[] RewriteProcess(ReadOnlySpan<byte> json, bool terminal)
    {
        var process = ParseObject(json, "OCI process");
        if (process["args"] is not JsonArray { Count: > 0 })
        {
            throw AgentErrorException.Invalid("malformed OCI process: args is empty");
        }

        if (process["cwd"] is null)
        {
            process["cwd"] = "/";
        }

        process["terminal"] = terminal;
        // An exec inherits the container's labels in its process.json (Docker copies them): removed as for the init.
        process.Remove("apparmorProfile");
        process.Remove("selinuxLabel");
        return JsonSerializer.SerializeToUtf8Bytes(process, OciJsonContext.Default.JsonObject);
    }

    // The members of an OCI LinuxResources and the JSON kind each must have; crun reports wrong
    // values inside them, this catches a document that is not resources at all.
    private static readonly (string Name, JsonValueKind Kind)[] s_resourceMembers =
    [
        ("devices", JsonValueKind.Array), ("memory", JsonValueKind.Object), ("cpu", JsonValueKind.Object),
        ("pids", JsonValueKind.Object), ("blockIO", JsonValueKind.Object), ("hugepageLimits", JsonValueKind.Array),
        ("network", JsonValueKind.Object), ("rdma", JsonValueKind.Object), ("unified", JsonValueKind.Object),
    ];

    // An OCI LinuxResources document (Task Update) for `crun update --resources`, checked for shape
    // and re-serialized (so the file crun reads is exactly one JSON object).
    public static byte[] ValidateResources(ReadOnlySpan<byte> json)
    {
        var resources = ParseObject(json, "OCI LinuxResources");
        foreach (var (name, kind) in s_resourceMembers)
        {
            if (resources[name] is { } member && member.GetValueKind() != kind)
            {
                throw AgentErrorException.Invalid(
                    $"malformed OCI LinuxResources: \"{name}\" must be a JSON {kind.ToString().ToLowerInvariant()}");
            }
        }

        return JsonSerializer.SerializeToUtf8Bytes(resources, OciJsonContext.Default.JsonObject);
    }

    internal static JsonObject ParseObject(ReadOnlySpan<byte> json, string what)
    {
        if (json.IsEmpty)
        {
            throw AgentErrorException.Invalid($"malformed {what}: empty");
        }

        try
        {
            var parsed = JsonNode.Parse(json) as JsonObject
                ?? throw AgentErrorException.Invalid($"malformed {what}: not a JSON object");
            Materialize(parsed);
            return parsed;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            // JsonNode decodes members lazily: invalid UTF-8 in a string (InvalidOperationException) or a duplicate
            // member name (ArgumentException) would otherwise surface later, far from this check, as an internal error.
            throw AgentErrorException.Invalid($"malformed {what}: {e.Message}");
        }
    }

    // Touches every object and string of the tree while the errors above can still be reported as bad input. The
    // parser's depth limit (64) bounds the recursion.
    private static void Materialize(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, member) in obj)
                {
                    Materialize(member);
                }
                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Materialize(item);
                }
                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                _ = value.GetValue<string>();
                break;
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(JsonObject))]
internal sealed partial class OciJsonContext : System.Text.Json.Serialization.JsonSerializerContext;
