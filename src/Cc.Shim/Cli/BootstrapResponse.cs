using System.Text;
using System.Text.Json;
using Cc.Shim.Configuration;

namespace Cc.Shim.Cli;

/// <summary>
/// What <c>start</c> prints (protocol.md §2.4.3), chosen by <c>runtime.bootstrap_version</c>. Version 2 is the plain
/// address, which containerd 1.6, 1.7 and 2.x all read as ttrpc + Task v2. Version 3 is the JSON only containerd 2.x
/// accepts (1.7 rejects any version above 2, 1.6 would dial the JSON as an address); 2.x then calls Task v3, which the
/// daemon serves too. Never a trailing newline: containerd reads stdout and stderr combined.
/// </summary>
public static class BootstrapResponse
{
    public const int PlainAddress = 2;
    public const int JsonV3 = 3;

    /// <summary>Throws a <see cref="ConfigurationException"/> for anything but 2 or 3; called before a daemon is spawned.</summary>
    public static void Validate(int version)
    {
        if (version is not (PlainAddress or JsonV3))
        {
            throw new ConfigurationException(
                $"runtime.bootstrap_version = {version} is not supported: use 2 (plain address; containerd 1.6, 1.7, 2.x) " +
                "or 3 (JSON with Task v3; containerd 2.x only)");
        }
    }

    public static string Format(string address, int version)
    {
        Validate(version);
        if (version == PlainAddress)
        {
            return address;
        }
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("version", JsonV3);
            json.WriteString("address", address);
            json.WriteString("protocol", "ttrpc");
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
