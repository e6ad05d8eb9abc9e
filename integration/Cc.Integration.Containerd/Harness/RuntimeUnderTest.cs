namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// The runtime a contract test class drives through `ctr run --runtime`. runc is the baseline that
/// proves the harness; io.containerd.cc.v2 is ours, and runs whatever build/bin/containerd-shim-cc-v2 is.
/// </summary>
internal sealed record RuntimeUnderTest(
    string Name,
    IReadOnlyList<string> RunOptions,
    TimeSpan StartTimeout,
    Func<string> ExpectedKernel,
    Func<string?> MissingPrerequisite)
{
    /// <summary>containerd's own runc shim: the host kernel, no VM, starts in well under a second.</summary>
    public static RuntimeUnderTest Runc { get; } = new(
        "io.containerd.runc.v2",
        ["--runtime", "io.containerd.runc.v2"],
        TimeSpan.FromSeconds(60),
        () => File.ReadAllText("/proc/sys/kernel/osrelease").Trim(),
        () => null);

    /// <summary>
    /// Ours: containerd resolves containerd-shim-cc-v2 from build/bin (first on its PATH). The options
    /// carry ConfigPath = build/configuration.toml when that file exists (runtimeoptions.v1.Options,
    /// protocol.md §3.9); without it the shim gets no options and must use its defaults. The timeout
    /// allows a QEMU boot under TCG (about 2–6 s, floors.md) with a wide margin on a busy 2-core host.
    /// </summary>
    public static RuntimeUnderTest Cc { get; } = new(
        "io.containerd.cc.v2",
        File.Exists(RepoPaths.ShimConfiguration)
            ? ["--runtime", "io.containerd.cc.v2", "--runtime-config-path", RepoPaths.ShimConfiguration]
            : ["--runtime", "io.containerd.cc.v2"],
        TimeSpan.FromSeconds(180),
        () => File.ReadAllText(RepoPaths.GuestKernelVersion).Trim(),
        MissingCcPrerequisite);

    /// <summary>This runtime with <paramref name="configurationPath"/> as the shim's ConfigPath (a test's own configuration).</summary>
    public RuntimeUnderTest WithConfiguration(string configurationPath) =>
        this with { RunOptions = ["--runtime", Name, "--runtime-config-path", configurationPath] };

    /// <summary>One line for failure messages: which binary, how old, with which options.</summary>
    public string Describe()
    {
        if (Name != Cc.Name)
        {
            return $"runtime {Name}";
        }

        var shim = new FileInfo(RepoPaths.ShimBinary);
        var built = shim.Exists ? $"built {shim.LastWriteTimeUtc:yyyy-MM-dd HH:mm:ss}Z, {shim.Length} bytes" : "missing";
        return $"runtime {Name} ({RepoPaths.ShimBinary}, {built}; ctr options: {string.Join(' ', RunOptions)})";
    }

    private static string? MissingCcPrerequisite()
    {
        if (!File.Exists(RepoPaths.ShimBinary))
        {
            return $"{RepoPaths.ShimBinary} is missing: run `make build` (src/containerd-shim-cc-v2).";
        }

        if (!File.Exists(RepoPaths.GuestKernelVersion))
        {
            return $"{RepoPaths.GuestKernelVersion} is missing: run `make guest` (hack/build-guest.sh).";
        }

        return null;
    }
}
