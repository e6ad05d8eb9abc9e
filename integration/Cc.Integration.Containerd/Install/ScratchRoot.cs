using System.Security.Cryptography;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Install;

/// <summary>
/// A throw-away root directory for hack/install.sh (DESTDIR or PREFIX/SHAREDIR under it), and what it holds: every
/// entry with its type, mode and content hash, so that "uninstall leaves it as before" compares everything an install
/// could have changed.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class ScratchRoot : IDisposable
{
    private static readonly TimeSpan s_scriptTimeout = TimeSpan.FromMinutes(3);

    public string Path { get; } = Directory.CreateTempSubdirectory("cc-install-").FullName;

    public string this[string absolute] => Path + absolute;

    public void Write(string absolute, string text)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(this[absolute])!);
        File.WriteAllText(this[absolute], text);
    }

    /// <summary>"d 755 /etc", "f 644 &lt;sha256&gt; /etc/containerd/config.toml", … sorted.</summary>
    public IReadOnlyList<string> Snapshot() =>
        Directory.EnumerateFileSystemEntries(Path, "*", SearchOption.AllDirectories)
            .Select(Describe)
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>hack/install.sh with <paramref name="variables"/> in its environment (on top of this process's).</summary>
    public static Task<ProcessResult> RunInstallAsync(IReadOnlyDictionary<string, string> variables, params string[] args)
    {
        var env = string.Join(' ', variables.Select(kv => $"{kv.Key}={ShellQuote.Quote(kv.Value)}"));
        var command = $"{env} bash {ShellQuote.Quote(RepoPaths.Hack("install.sh"))} {string.Join(' ', args.Select(ShellQuote.Quote))}";
        return ProcessRunner.RunAsync("bash", ["-c", command], s_scriptTimeout, CancellationToken.None);
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);

    private string Describe(string entry)
    {
        var relative = entry[Path.Length..];
        var mode = Convert.ToString((int)File.GetUnixFileMode(entry), 8);
        if (Directory.Exists(entry))
        {
            return $"d {mode} {relative}";
        }
        using var stream = File.OpenRead(entry);
        return $"f {mode} {Convert.ToHexStringLower(SHA256.HashData(stream))} {relative}";
    }
}
