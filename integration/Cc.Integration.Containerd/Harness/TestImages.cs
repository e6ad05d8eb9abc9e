namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// The local test images built by hack/images/build.sh (cached; a no-op when up to date), as named in
/// build/images/images.env.
/// </summary>
internal sealed record TestImages(
    string BusyboxTar, string BusyboxBase, string BusyboxImage, string PauseTar, string PauseBase, string PauseImage)
{
    private static readonly TimeSpan s_buildTimeout = TimeSpan.FromMinutes(3);

    public static async Task<TestImages> BuildAsync(CancellationToken cancellationToken)
    {
        var result = await ProcessRunner.RunAsync(
            RepoPaths.Hack("images/build.sh"), [], s_buildTimeout, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"the test images could not be built:\n{result.Describe()}");
        }

        var env = File.ReadAllLines(RepoPaths.Build("images/images.env"))
            .Where(line => line.Contains('=', StringComparison.Ordinal) && !line.StartsWith('#'))
            .Select(line => line.Split('=', 2))
            .ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
        return new TestImages(
            env["BUSYBOX_TAR"], env["BUSYBOX_BASE"], env["BUSYBOX_IMAGE"], env["PAUSE_TAR"], env["PAUSE_BASE"], env["PAUSE_IMAGE"]);
    }
}
