using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// The basics of issue 9 through a real dockerd: `docker run --runtime cc` runs in the VM, with runc (Docker's default)
/// as the reference for what a user sees.
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerRunTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    [Fact]
    public async Task Uname_under_cc_prints_the_guest_kernel_not_the_hosts()
    {
        var result = await RunAsync("cc", [], "uname", "-r");

        result.ExitCode.ShouldBe(0, result.Describe());
        result.Stdout.Trim().ShouldBe(GuestKernel, result.Describe());
        result.Stdout.Trim().ShouldNotBe(HostKernel, "the guest kernel must differ from the host's, or this test proves nothing");
    }

    [Fact]
    public async Task Ls_of_the_root_lists_the_image_under_cc_as_under_runc()
    {
        var runc = await InContainerAsync("runc", [], "ls /");
        var cc = await InContainerAsync("cc", [], "ls /");

        runc.ShouldContain("bin");
        runc.ShouldContain("etc");
        cc.ShouldBe(runc);
    }

    [Theory]
    [InlineData("runc", 0)]
    [InlineData("cc", 0)]
    [InlineData("runc", 3)]
    [InlineData("cc", 3)]
    public async Task The_exit_code_of_docker_run_is_the_containers(string runtime, int code)
    {
        var result = await RunAsync(runtime, [], "sh", "-c", $"exit {code}");

        result.ExitCode.ShouldBe(code, result.Describe());
    }

    /// <summary>
    /// 137 = 128 + SIGKILL. Sent by `docker kill`, not by the container to itself: `sh -c 'kill -9 $$'` is the
    /// container's init (pid 1 of its pid namespace), which the kernel shields from signals it has no handler for, so it
    /// exits 0 under runc too.
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task A_container_killed_with_sigkill_exits_137(string runtime)
    {
        var id = await DockerOkAsync("run", "-d", "--runtime", runtime, Image, "sleep", "1000");
        try
        {
            await DockerOkAsync("kill", id);

            (await DockerOkAsync("wait", id)).ShouldBe("137");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Pid_1_ignores_its_own_sigkill_and_exits_0_as_under_runc(string runtime)
    {
        var result = await RunAsync(runtime, [], "sh", "-c", "kill -9 $$; echo survived");

        result.ExitCode.ShouldBe(0, result.Describe());
        result.Stdout.Trim().ShouldBe("survived");
    }

    /// <summary>A detached container without a terminal: `docker logs` holds every byte of stdout and of stderr, each on its own stream.</summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Docker_logs_of_a_detached_container_holds_every_byte(string runtime)
    {
        var id = await DockerOkAsync("run", "-d", "--runtime", runtime, Image, "sh", "-c", "seq 1 20000; echo to-stderr >&2");
        try
        {
            (await DockerOkAsync("wait", id)).ShouldBe("0");

            var logs = await Docker.DockerAsync(CommandTimeout, CancellationToken.None, "logs", id);

            logs.ExitCode.ShouldBe(0, logs.Describe());
            var expected = string.Concat(Enumerable.Range(1, 20000).Select(n => $"{n}\n"));
            logs.Stdout.Length.ShouldBe(expected.Length, "bytes of stdout");
            logs.Stdout.ShouldBe(expected);
            logs.Stderr.ShouldBe("to-stderr\n");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    /// <summary>
    /// While it runs the container has a shim and a QEMU of this instance (so the check below can fail); after `docker rm`
    /// neither is left, nor a mount, the shim socket, the bundle or the run directory, and containerd removed the bundle
    /// without "failed to remove bundle rootfs" (the shim shares Docker's root.path and writes nothing to the bundle's).
    /// </summary>
    [Fact]
    public async Task After_docker_rm_nothing_of_ours_is_left()
    {
        var before = DockerLeftovers.Take();
        var offset = Docker.ContainerdLogLength();
        var id = await DockerOkAsync("run", "-d", "--runtime", "cc", Image, "sleep", "1000");
        try
        {
            var shims = DockerLeftovers.ShimPids(Docker, id);
            shims.Count.ShouldBe(1, $"the shim of {id}");
            DockerLeftovers.QemuChildren(shims[0]).Count.ShouldBe(1, "the VM of the container");
            Directory.EnumerateFileSystemEntries(Path.Combine(Docker.BundlePath(id), "rootfs"))
                .ShouldBeEmpty("the shim must not write into the bundle's rootfs/ (Docker's root is its overlay)");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }

        (await DockerLeftovers.SettledAsync(Docker, id, before, TimeSpan.FromSeconds(30))).ShouldBeEmpty(Docker.LogsSince(offset));
        Docker.LogsSince(offset, int.MaxValue).ShouldNotContain("failed to remove bundle rootfs");
    }
}
