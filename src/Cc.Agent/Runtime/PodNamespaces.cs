using System.Globalization;
using System.Text.Json.Nodes;
using Cc.Agent.Containers;

namespace Cc.Agent.Runtime;

// The namespaces a container of a CRI pod gets in the guest (docs/agent-api.md, "Pod namespaces"),
// written into its spec for crun:
//   network  the VM is the pod's network: every container runs in the guest's root network
//            namespace (the entry is removed); net.* sysctls were applied there by CreateSandbox and
//            are removed from the spec (crun refuses them without a network namespace of its own).
//   ipc, uts the sandbox container gets fresh ones; an app container whose host spec names a path
//            for the type joins the sandbox container's (/proc/<its init's guest pid>/ns/<type>).
//   pid      the same, but only when the host spec names a path (shareProcessNamespace).
//   others   (mount, user, cgroup, time) fresh: paths dropped.
// An app container joining the sandbox's UTS namespace cannot set a hostname (it would rename the
// pod); spec.hostname is dropped and the sandbox's (the pod's) is what it sees.
// Every bind at /dev/shm names the pod's shm tmpfs (PodShmDirectory): shared memory within the pod.
internal sealed record PodNamespaces(PodRole Role, int SandboxPid, string PodShmDirectory)
{
    public static PodNamespaces Standalone { get; } = new(PodRole.None, 0, "");

    private static readonly HashSet<string> s_joined = new(StringComparer.Ordinal) { "ipc", "uts", "pid" };

    public static void Apply(JsonObject spec, PodNamespaces pod)
    {
        var linux = spec["linux"] as JsonObject;
        var joinedUts = false;
        if (linux?["namespaces"] is JsonArray namespaces)
        {
            foreach (var ns in namespaces.OfType<JsonObject>().ToList())
            {
                var type = Text(ns["type"]);
                var hostPath = Text(ns["path"]);
                ns.Remove("path");
                if (type == "network")
                {
                    namespaces.Remove(ns);
                }
                else if (pod.Role == PodRole.Container && type is not null && s_joined.Contains(type) && !string.IsNullOrEmpty(hostPath))
                {
                    ns["path"] = string.Create(CultureInfo.InvariantCulture, $"/proc/{pod.SandboxPid}/ns/{type}");
                    joinedUts |= type == "uts";
                }
            }
        }

        if (joinedUts)
        {
            spec.Remove("hostname");
        }

        if (linux?["sysctl"] is JsonObject sysctl)
        {
            foreach (var name in sysctl.Select(p => p.Key).Where(IsNetworkSysctl).ToList())
            {
                sysctl.Remove(name);
            }
        }

        if (spec["mounts"] is JsonArray mounts)
        {
            foreach (var mount in mounts.OfType<JsonObject>())
            {
                if (Text(mount["destination"])?.TrimEnd('/') == "/dev/shm" && IsBind(mount))
                {
                    mount["source"] = pod.PodShmDirectory;
                }
            }
        }
    }

    public static bool IsNetworkSysctl(string name) => name.StartsWith("net.", StringComparison.Ordinal);

    private static bool IsBind(JsonObject mount) =>
        Text(mount["type"]) == "bind"
        || (mount["options"] is JsonArray options && options.Any(o => Text(o) is "bind" or "rbind"));

    private static string? Text(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
}
