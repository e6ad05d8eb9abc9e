using System.Diagnostics;
using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// `docker run` options whose effect must exist inside the guest (each script starts with `uname -r`, checked to be the
/// guest kernel under cc), and `docker stop`'s TERM → KILL escalation; runc is the reference.
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerOptionsTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task User_1000_runs_the_process_as_uid_and_gid_1000(string runtime)
    {
        var lines = await InContainerAsync(runtime, ["--user", "1000:1000"], "id -u; id -g");

        lines.ShouldBe(["1000", "1000"]);
    }

    /// <summary>
    /// `--user nobody:nogroup` names a user and a group of the image (hack/images/build.sh writes them: 65534); the names
    /// resolve through the image's /etc/passwd and /etc/group, and `--group-add` adds supplementary groups. Inside, the
    /// process has those ids, `whoami` finds its name in the image's passwd, and its groups hold the added ones (the
    /// primary group may be listed too, as Docker puts it among the additional gids).
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task User_and_group_names_resolve_from_the_image_and_group_add_adds_supplementary_groups(string runtime)
    {
        var lines = await InContainerAsync(runtime, ["--user", "nobody:nogroup", "--group-add", "1234", "--group-add", "2345"],
            "id -u; id -g; whoami; awk '$1 == \"Groups:\" { $1 = \"\"; print }' /proc/self/status");

        lines.Take(3).ShouldBe(["65534", "65534", "nobody"]);
        var groups = lines[3].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        groups.ShouldContain("1234", lines[3]);
        groups.ShouldContain("2345", lines[3]);
        groups.ShouldBeSubsetOf(["1234", "2345", "65534"], lines[3]);
    }

    /// <summary>
    /// `-v` binds a host directory read-write and a host file read-only, and changes cross while the container runs:
    /// the container reads what the host wrote before it started, writes a file the host reads, then reads a file the
    /// host writes afterwards; a write to the read-only file fails. Each step waits for the other side's line in
    /// `docker logs -f`, never for time.
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Bind_volumes_of_a_directory_and_a_read_only_file_carry_changes_both_ways_while_the_container_runs(
        string runtime)
    {
        var host = Directory.CreateTempSubdirectory("cc-docker-bind-").FullName;
        try
        {
            var data = Path.Combine(host, "data");
            Directory.CreateDirectory(data);
            await File.WriteAllTextAsync(Path.Combine(data, "before"), "written by the host before\n");
            var single = Path.Combine(host, "single");
            await File.WriteAllTextAsync(single, "one file\n");
            var id = await DockerOkAsync("run", "-d", "--runtime", runtime, "-v", $"{data}:/data", "-v", $"{single}:/one:ro",
                Image, "sh", "-c",
                "uname -r; cat /data/before /one; if echo x > /one 2>/dev/null; then echo ro-broken; else echo ro-held; fi; "
                + "echo written by the container > /data/from-container; echo container-wrote; "
                + "while [ ! -f /data/from-host ]; do sleep 0.1; done; cat /data/from-host; exec sleep 1000");
            try
            {
                await using var logs = Docker.StartDocker("logs", "-f", id);
                await logs.WaitForStdoutAsync("container-wrote", RunTimeout, CancellationToken.None);
                (await File.ReadAllTextAsync(Path.Combine(data, "from-container"))).ShouldBe("written by the container\n");
                // Written aside and renamed, so the container's loop never finds the file before its content.
                await File.WriteAllTextAsync(Path.Combine(host, "from-host"), "written by the host after\n");
                File.Move(Path.Combine(host, "from-host"), Path.Combine(data, "from-host"));
                await logs.WaitForStdoutAsync("written by the host after", CommandTimeout, CancellationToken.None);

                logs.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ShouldBe(
                [
                    KernelOf(runtime), "written by the host before", "one file", "ro-held", "container-wrote",
                    "written by the host after",
                ]);
                (await File.ReadAllTextAsync(single)).ShouldBe("one file\n");
            }
            finally
            {
                await DockerOkAsync("rm", "-f", id);
            }
        }
        finally
        {
            Directory.Delete(host, recursive: true);
        }
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Read_only_makes_writes_to_the_root_fail_with_erofs_and_leaves_tmpfs_writable(string runtime)
    {
        var lines = await InContainerAsync(runtime, ["--read-only", "--tmpfs", "/tmp"],
            "touch /x 2>&1; echo rootfs=$?; touch /tmp/x; echo tmp=$?");

        lines.ShouldBe(["touch: /x: Read-only file system", "rootfs=1", "tmp=0"]);
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Tmpfs_mounts_a_tmpfs_of_the_asked_size(string runtime)
    {
        var lines = await InContainerAsync(runtime, ["--tmpfs", "/scratch:size=8m"],
            "awk '$2 == \"/scratch\" { print $3 }' /proc/mounts; df -k /scratch | awk 'NR == 2 { print $2 }'");

        lines.ShouldBe(["tmpfs", "8192"]);
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Shm_size_sizes_dev_shm(string runtime)
    {
        var lines = await InContainerAsync(runtime, ["--shm-size", "32m"], "df -k /dev/shm | awk 'NR == 2 { print $2 }'");

        lines.ShouldBe(["32768"]);
    }

    /// <summary>
    /// kernel.msgmax belongs to the IPC namespace, which starts from the kernel's default (8192), not the host's value,
    /// so 65536 can only come from the option. (Not net.ipv4.*: a new network namespace copies the host's IPv4 values.)
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Sysctl_sets_the_value_the_container_reads(string runtime)
    {
        var without = await InContainerAsync(runtime, [], "cat /proc/sys/kernel/msgmax");
        var with = await InContainerAsync(runtime, ["--sysctl", "kernel.msgmax=65536"], "cat /proc/sys/kernel/msgmax");

        without.ShouldNotBe(["65536"]);
        with.ShouldBe(["65536"]);
    }

    /// <summary>`docker stop` sends SIGTERM first: a process that handles it exits with its own code, at once.</summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Docker_stop_delivers_sigterm_to_a_process_that_handles_it(string runtime)
    {
        var (code, elapsed) = await StopAsync(runtime, "trap 'exit 42' TERM", stopTimeoutSeconds: 30);

        code.ShouldBe("42");
        elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(30), "TERM ended it; docker stop did not need to escalate");
    }

    /// <summary>
    /// A process that ignores SIGTERM is killed when `docker stop -t 2` runs out: exit 137, and not before the 2 s.
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Docker_stop_escalates_to_sigkill_when_sigterm_is_ignored(string runtime)
    {
        var (code, elapsed) = await StopAsync(runtime, "trap '' TERM", stopTimeoutSeconds: 2);

        code.ShouldBe("137");
        elapsed.ShouldBeGreaterThanOrEqualTo(TimeSpan.FromSeconds(2));
    }

    /// <summary>
    /// Starts a container that installs <paramref name="trap"/>, says "ready" and sleeps in short steps (so the shell runs
    /// its trap between them), waits for "ready" in `docker logs -f`, then times `docker stop -t`.
    /// </summary>
    private async Task<(string ExitCode, TimeSpan Elapsed)> StopAsync(string runtime, string trap, int stopTimeoutSeconds)
    {
        var id = await DockerOkAsync("run", "-d", "--runtime", runtime, Image, "sh", "-c",
            $"{trap}; echo ready; while :; do sleep 0.2; done");
        try
        {
            await using (var logs = Docker.StartDocker("logs", "-f", id))
            {
                await logs.WaitForStdoutAsync("ready", RunTimeout, CancellationToken.None);
            }

            var clock = Stopwatch.StartNew();
            await DockerOkAsync("stop", "-t", stopTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), id);
            var elapsed = clock.Elapsed;

            return (await DockerOkAsync("inspect", "-f", "{{.State.ExitCode}}", id), elapsed);
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }
}
