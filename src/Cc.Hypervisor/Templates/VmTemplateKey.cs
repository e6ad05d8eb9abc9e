using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cc.Hypervisor.Qemu;

namespace Cc.Hypervisor.Templates;

/// <summary>
/// The name of the template a VM can be cloned from: a hash of everything that must be equal between template and
/// clone. That is the whole QEMU command line with the per-VM paths replaced by fixed ones (machine, accelerator,
/// memory, vCPUs, firmware, kernel command line, every device and its order), plus the identity (size and modification
/// time) of the files whose content the guest or the migration stream depends on: QEMU itself, the kernel, the
/// initramfs and the firmware. A change to any of them names another template; the old one is simply never used again.
/// </summary>
public static class VmTemplateKey
{
    /// <summary>Stand-in for the per-VM directory in the hashed command line.</summary>
    private const string NeutralDirectory = "/cc-template";

    /// <summary>Stand-in for TCG's translation cache size in the hashed command line. The cache is an accelerator option
    /// of the running QEMU, never in the saved state: a clone loads its template's state with any size (checked with
    /// QEMU 7.2), so clones may run a smaller cache than the template booted with (docs/templates.md, "The key").</summary>
    private const int NeutralTcgTranslationCacheMiB = 64;

    /// <summary>The key of <paramref name="config"/>, 16 hex digits. Network interfaces are not part of the shape: the
    /// template has none, and a clone gets its own by hot-plug (<see cref="VmConfig.HotplugPorts"/> are).</summary>
    public static string For(VmConfig config, HostCapabilities host)
    {
        VmConfig neutral = Neutral(config);
        var text = new StringBuilder();
        foreach (string argument in QemuCommandLine.Build(neutral, RunLayout.For(neutral), host))
        {
            text.Append(argument).Append('\0');
        }
        foreach (string? file in new[] { config.QemuPath, config.Kernel.Path, config.Kernel.InitramfsPath, host.QbootPath })
        {
            text.Append(Stamp(file)).Append('\0');
        }
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()));
        return Convert.ToHexStringLower(hash.AsSpan(0, 8));
    }

    /// <summary><paramref name="config"/> with every per-VM path (and the TCG cache size, which is not part of the saved
    /// state) replaced by a fixed one; what remains is the shape.</summary>
    internal static VmConfig Neutral(VmConfig config) => config with
    {
        RunDirectory = NeutralDirectory,
        ConsoleLogPath = NeutralDirectory + "/console.log",
        Shared = config.Shared is { } shared ? shared with { HostPath = NeutralDirectory + "/share" } : null,
        MemoryFile = new GuestMemoryFile(NeutralDirectory + "/" + VmTemplate.MemoryFileName, Shared: true),
        IncomingMigration = false,
        NetworkInterfaces = [],
        NetworkHotplug = false,
        TcgTranslationCacheMiB = NeutralTcgTranslationCacheMiB,
    };

    private static string Stamp(string? path)
    {
        if (path is null)
        {
            return "-";
        }
        var info = new FileInfo(path);
        return info.Exists
            ? string.Create(CultureInfo.InvariantCulture, $"{path}:{info.Length}:{info.LastWriteTimeUtc.Ticks}")
            : path + ":missing";
    }
}
