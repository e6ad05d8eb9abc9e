namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// Absolute paths into the checkout, found by walking up from the test assembly to ShimV2.sln, so
/// the tests run the same from `dotnet test`, an IDE or hack/run-tests.sh. CC_REPO_ROOT overrides
/// the search (a test assembly built outside the checkout).
/// </summary>
internal static class RepoPaths
{
    private static readonly Lazy<string> s_root = new(FindRoot);

    public static string Root => s_root.Value;

    public static string Hack(string relative) => Path.Combine(Root, "hack", relative);

    public static string Build(string relative) => Path.Combine(Root, "build", relative);

    /// <summary>The shim binary containerd resolves for io.containerd.cc.v2 (build/bin is first on its PATH).</summary>
    public static string ShimBinary => Build("bin/containerd-shim-cc-v2");

    /// <summary>The guest kernel release written by hack/build-guest.sh (docs/design/guest.md).</summary>
    public static string GuestKernelVersion => Build("guest/kernel-version");

    /// <summary>The shim's configuration, passed as the runtime options' ConfigPath.</summary>
    public static string ShimConfiguration => Build("configuration.toml");

    private static string FindRoot()
    {
        if (Environment.GetEnvironmentVariable("CC_REPO_ROOT") is { Length: > 0 } root)
        {
            return root;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ShimV2.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException(
            $"ShimV2.sln not found above {AppContext.BaseDirectory}; run the tests from a checkout.");
    }
}
