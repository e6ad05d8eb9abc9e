using System.Text.Json;

namespace Cc.Shim.Sandbox;

/// <summary>
/// The container's root file system on the host, as the OCI spec's <c>root.path</c> names it and runc reads it: an
/// absolute path as it is, a relative one against the bundle, and <c>rootfs</c> (containerd's bundle layout) when the
/// spec has none. It matters when containerd passes no rootfs mounts: Docker (graph drivers, not containerd
/// snapshotters) mounts the image itself, names that overlay as an absolute <c>root.path</c> outside the bundle and
/// leaves the bundle's <c>rootfs/</c> empty (docs/docker.md).
/// </summary>
public static class SpecRoot
{
    /// <summary>containerd's bundle layout: the rootfs mounts go to <c>&lt;bundle&gt;/rootfs</c>.</summary>
    public const string DefaultPath = "rootfs";

    /// <summary>
    /// The absolute host path of the root file system of <paramref name="spec"/> (config.json) in
    /// <paramref name="bundle"/>. Pure: reads no file system. Invalid JSON or a <c>root.path</c> that is not a string is
    /// an invalid request.
    /// </summary>
    public static string HostPath(ReadOnlySpan<byte> spec, string bundle)
    {
        string? path;
        try
        {
            using var document = JsonDocument.Parse(spec.ToArray());
            path = document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("root", out var root) && root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("path", out var value)
                ? value.ValueKind == JsonValueKind.String
                    ? value.GetString()
                    : throw new InvalidRequestException($"config.json: root.path is a {value.ValueKind}, not a string")
                : null;
        }
        catch (JsonException e)
        {
            throw new InvalidRequestException($"config.json is not valid JSON: {e.Message}", e);
        }
        if (string.IsNullOrEmpty(path))
        {
            path = DefaultPath;
        }
        // GetFullPath folds "." and ".." as runc's filepath.Join does; the result is what mount(2) gets.
        return Path.TrimEndingDirectorySeparator(Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(bundle, path)));
    }
}
