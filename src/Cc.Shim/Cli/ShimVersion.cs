using System.Reflection;

namespace Cc.Shim.Cli;

/// <summary>The version printed by <c>-v</c> and reported by <c>-info</c> and Connect.</summary>
public static class ShimVersion
{
    /// <summary>The runtime name containerd resolves to this binary (protocol.md §2.1).</summary>
    public const string RuntimeName = "io.containerd.cc.v2";

    public const string BinaryName = "containerd-shim-cc-v2";

    public static string Version { get; } = ReadVersion();

    /// <summary>The <c>-v</c> text, shaped like the Go shims' (name, then indented fields).</summary>
    public static string Text => $"{BinaryName}:\n  Version:  {Version}\n  Runtime:  .NET {Environment.Version}\n";

    private static string ReadVersion()
    {
        var informational = typeof(ShimVersion).Assembly
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        // The SDK appends "+<source revision>" when it knows one; the part before is the version proper.
        return informational?.Split('+')[0] ?? "0.0.0";
    }
}
