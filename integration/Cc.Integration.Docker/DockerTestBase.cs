using Cc.Integration.Containerd.Harness;
using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// What the Docker tests share: the image, the two runtimes (Docker's default runc as the reference, and `cc`, our shim
/// as daemon.json names it), and a run that proves where a command ran: every script starts with `uname -r`, which is
/// the guest kernel (build/guest/kernel-version) under cc and the host's under runc.
/// </summary>
public abstract class DockerTestBase(DockerFixture fixture)
{
    /// <summary>The busybox image hack/docker/start.sh loads (hack/images/build.sh names it in images.env).</summary>
    protected const string Image = "localhost/cc/busybox:test";

    /// <summary>A `docker run` of a VM boots QEMU under TCG on a loaded 2-core host: generous, but bounded.</summary>
    protected static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);

    protected static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(1);

    internal PrivateDocker Docker => fixture.Docker;

    protected static string GuestKernel => File.ReadAllText(RepoPaths.GuestKernelVersion).Trim();

    protected static string HostKernel => File.ReadAllText("/proc/sys/kernel/osrelease").Trim();

    protected static string KernelOf(string runtime) => runtime == "cc" ? GuestKernel : HostKernel;

    /// <summary>`docker run --rm --runtime &lt;runtime&gt; &lt;options&gt; IMAGE &lt;command&gt;`.</summary>
    internal Task<ProcessResult> RunAsync(string runtime, IEnumerable<string> options, params IEnumerable<string> command) =>
        Docker.DockerAsync(RunTimeout, CancellationToken.None,
            ["run", "--rm", "--runtime", runtime, .. options, Image, .. command]);

    /// <summary>
    /// Runs `uname -r; &lt;script&gt;` in a fresh container, asserts that it succeeded where <paramref name="runtime"/> runs
    /// containers (the guest for cc) and returns the script's output lines.
    /// </summary>
    internal async Task<IReadOnlyList<string>> InContainerAsync(string runtime, IEnumerable<string> options, string script)
    {
        var offset = Docker.ContainerdLogLength();
        var result = await RunAsync(runtime, options, "sh", "-c", $"uname -r; {script}");
        result.ExitCode.ShouldBe(0, $"{result.Describe()}\n{Docker.LogsSince(offset)}");
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        lines.ShouldNotBeEmpty(result.Describe());
        lines[0].ShouldBe(KernelOf(runtime), $"where the container ran ({runtime}):\n{result.Describe()}");
        return lines[1..];
    }

    /// <summary>`docker &lt;args&gt;` that must succeed; returns its trimmed stdout.</summary>
    internal async Task<string> DockerOkAsync(params IEnumerable<string> args)
    {
        var result = await Docker.DockerAsync(RunTimeout, CancellationToken.None, args);
        result.ExitCode.ShouldBe(0, result.Describe());
        return result.Stdout.Trim();
    }
}
