using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cc.Agent.Runtime;

// The OCI annotations of a container, made visible to its workload: runc keeps them in its state only, and Clear
// Containers listed "annotations not visible inside" as a limitation. Here they are one
// read-only JSON file, {"key": "value", …} exactly as the spec carries them, bind-mounted at ContainerPath. A
// container whose spec has no annotations gets no file and no mount, so its file system is exactly runc's.
internal static class AnnotationsFile
{
    // Where the workload reads them (docs/compatibility.md). Under /run, the conventional place for what the runtime
    // tells a container about itself (Podman's /run/.containerenv); crun creates the mount point when the image lacks it.
    public const string ContainerPath = "/run/cc/annotations.json";

    // The file's name in the container's guest bundle, its source.
    public const string BundleName = "annotations.json";

    // The annotations object of the spec re-serialized, or null when it has none (or no object of them).
    public static byte[]? Render(JsonObject spec) =>
        spec["annotations"] is JsonObject { Count: > 0 } annotations
            ? JsonSerializer.SerializeToUtf8Bytes(annotations, OciJsonContext.Default.JsonObject)
            : null;

    // A read-only bind mount of source at ContainerPath, appended to the spec's mounts (after the image's own mounts, so
    // a /run tmpfs of the spec lies under it).
    public static void AddMount(JsonObject spec, string source)
    {
        if (spec["mounts"] is not JsonArray mounts)
        {
            mounts = new JsonArray();
            spec["mounts"] = mounts;
        }

        mounts.Add((JsonNode)new JsonObject
        {
            ["destination"] = ContainerPath,
            ["type"] = "bind",
            ["source"] = source,
            ["options"] = new JsonArray("rbind", "ro", "nosuid", "nodev", "noexec"),
        });
    }
}
