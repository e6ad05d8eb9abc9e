using System.Text.Json;

namespace Cc.Agent.Runtime;

// Whether a container could see that the modules loaded after ready (GuestSystem.DeferredModulesLoaded: fuse,
// virtiofs, virtio_net, virtio_blk, virtio_balloon, virtio_mem, overlay, bridge, and vsock without a vsock device) are
// not loaded yet, judged from its OCI spec. Such a container is created only after they all are, so what it sees is
// what it saw when every module loaded before ready. One that cannot is created at once, while they load: that is the
// first container of a cold `ctr run`, which then does not wait for drivers it cannot use (docs/guest-image.md).
//
// A container can tell only through what the modules add, and reaching those takes one of:
// - a device node in linux.devices (a disk, /dev/fuse, /dev/vsock, /dev/net/tun...);
// - a mount of a type beyond the standard pseudo filesystems and binds (overlay, virtiofs, fuse, 9p...);
// - CAP_SYS_ADMIN (mounts: overlay, fuse) or CAP_NET_ADMIN (bridges, links) in any capability set, or a user
//   namespace, in which a process gets both over what it owns (an unprivileged overlay mount since Linux 5.11);
// - the guest's own network namespace (none in linux.namespaces, or one with a path, which the agent turns into
//   the guest's root namespace: docs/networking.md), where the pod's NICs are, and virtio_net drives them.
// A spec that cannot be read counts as needing them all (the create then fails on it anyway).
internal static class DeferredModuleNeed
{
    private static readonly HashSet<string> s_plainMountTypes = new(StringComparer.Ordinal)
    {
        "", "bind", "rbind", "none", "proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2", "shm",
    };

    private static readonly string[] s_capabilitySets = ["bounding", "effective", "inheritable", "permitted", "ambient"];

    public static bool NeedsDeferredModules(ReadOnlyMemory<byte> specJson)
    {
        try
        {
            using var document = JsonDocument.Parse(specJson);
            var spec = document.RootElement;
            if (spec.ValueKind != JsonValueKind.Object)
            {
                return true;
            }

            return HasDevices(spec) || HasOtherMounts(spec) || HasMountOrNetworkCapability(spec) || UsesGuestNetworkOrUserNamespace(spec);
        }
        catch (JsonException)
        {
            return true;
        }
    }

    private static bool HasDevices(JsonElement spec) =>
        spec.TryGetProperty("linux", out var linux) && linux.ValueKind == JsonValueKind.Object
        && linux.TryGetProperty("devices", out var devices) && devices.ValueKind == JsonValueKind.Array
        && devices.GetArrayLength() > 0;

    private static bool HasOtherMounts(JsonElement spec)
    {
        if (!spec.TryGetProperty("mounts", out var mounts) || mounts.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        foreach (var mount in mounts.EnumerateArray())
        {
            var type = mount.ValueKind == JsonValueKind.Object && mount.TryGetProperty("type", out var t)
                && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            if (!s_plainMountTypes.Contains(type))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasMountOrNetworkCapability(JsonElement spec)
    {
        if (!spec.TryGetProperty("process", out var process) || process.ValueKind != JsonValueKind.Object
            || !process.TryGetProperty("capabilities", out var capabilities) || capabilities.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        foreach (var set in s_capabilitySets)
        {
            if (capabilities.TryGetProperty(set, out var names) && names.ValueKind == JsonValueKind.Array)
            {
                foreach (var name in names.EnumerateArray())
                {
                    if (name.ValueKind == JsonValueKind.String && name.GetString() is "CAP_SYS_ADMIN" or "CAP_NET_ADMIN")
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    private static bool UsesGuestNetworkOrUserNamespace(JsonElement spec)
    {
        var ownNetwork = false;
        if (spec.TryGetProperty("linux", out var linux) && linux.ValueKind == JsonValueKind.Object
            && linux.TryGetProperty("namespaces", out var namespaces) && namespaces.ValueKind == JsonValueKind.Array)
        {
            foreach (var ns in namespaces.EnumerateArray())
            {
                if (ns.ValueKind != JsonValueKind.Object || !ns.TryGetProperty("type", out var type)
                    || type.ValueKind != JsonValueKind.String)
                {
                    continue;
                }

                switch (type.GetString())
                {
                    case "user":
                        return true;
                    case "network":
                        ownNetwork = !ns.TryGetProperty("path", out var path) || path.ValueKind != JsonValueKind.String
                            || path.GetString()!.Length == 0;
                        break;
                }
            }
        }

        return !ownNetwork;
    }
}
