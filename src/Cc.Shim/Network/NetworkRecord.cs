using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cc.Shim.Network;

/// <summary>
/// What the shim changed in a pod's network namespace, kept as <c>network.json</c> in the sandbox's run directory. It
/// is written before the first change, so that a <c>shim delete</c> after a crashed daemon knows where to look.
/// </summary>
public sealed class NetworkRecord
{
    public const string FileName = "network.json";

    [JsonPropertyName("netns")] public string NetnsPath { get; set; } = "";

    [JsonPropertyName("mirrors")] public List<MirrorRecord> Mirrors { get; set; } = [];

    /// <summary>The port-forward listener's port, which names the NAT rule in the namespace (PortForwardRule); 0: none.</summary>
    [JsonPropertyName("port_forward_port")] public int PortForwardPort { get; set; }

    public void Write(string runDirectory)
    {
        var path = Path.Combine(runDirectory, FileName);
        File.WriteAllBytes(path + ".tmp", JsonSerializer.SerializeToUtf8Bytes(this, NetworkRecordContext.Default.NetworkRecord));
        File.Move(path + ".tmp", path, overwrite: true);
    }

    /// <summary>The record in <paramref name="runDirectory"/>, or null when the shim changed no namespace there.</summary>
    public static NetworkRecord? Read(string runDirectory)
    {
        var path = Path.Combine(runDirectory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), NetworkRecordContext.Default.NetworkRecord);
        }
        catch (JsonException e)
        {
            throw new NetworkSetupException($"{path} is not a network record: {e.Message}", e);
        }
    }

    public static void Delete(string runDirectory) => File.Delete(Path.Combine(runDirectory, FileName));
}

/// <summary>One veth (CNI's) and the tap of ours that mirrors it.</summary>
public sealed class MirrorRecord
{
    [JsonPropertyName("interface")] public string Interface { get; set; } = "";

    [JsonPropertyName("tap")] public string Tap { get; set; } = "";
}

[JsonSerializable(typeof(NetworkRecord))]
internal sealed partial class NetworkRecordContext : JsonSerializerContext;
