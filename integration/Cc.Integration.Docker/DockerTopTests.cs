using System.Globalization;
using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// `docker top`: dockerd asks containerd for the task's pids and runs the host's `ps -ef`, keeping the rows of those
/// pids. Under runc those are the container's processes. Under cc the shim answers, in dockerd's namespace, the pid of
/// the QEMU that runs the container (guest pids would name unrelated host processes): `docker top` shows that one VM
/// process, a child of the container's shim. The guest's own list is `docker exec … ps` (or `ctr task ps`).
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerTopTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    [Fact]
    public async Task Docker_top_under_runc_lists_the_containers_process()
    {
        var id = await DockerOkAsync("run", "-d", "--runtime", "runc", Image, "sleep", "1000");
        try
        {
            var rows = Rows(await DockerOkAsync("top", id));

            rows.Count.ShouldBe(1);
            rows[0].Command.ShouldBe("sleep 1000");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    [Fact]
    public async Task Docker_top_under_cc_shows_the_qemu_of_the_container_and_exec_ps_the_guest_processes()
    {
        var id = await DockerOkAsync("run", "-d", "--runtime", "cc", Image, "sleep", "1000");
        try
        {
            var rows = Rows(await DockerOkAsync("top", id));
            var guest = await DockerOkAsync("exec", id, "ps", "-o", "pid,args");

            rows.Count.ShouldBe(1, string.Join('\n', rows));
            Path.GetFileName(rows[0].Command.Split(' ')[0]).ShouldStartWith("qemu-system", Case.Sensitive, rows[0].Command);
            rows[0].Command.ShouldContain(id, Case.Sensitive, "its run directory is the container's");
            var shims = DockerLeftovers.ShimPids(Docker, id);
            shims.Count.ShouldBe(1);
            DockerLeftovers.QemuChildren(shims[0]).ShouldBe([rows[0].Pid], "the QEMU docker top shows is the container's shim's");
            guest.ShouldContain("1 sleep 1000", Case.Sensitive, "PID 1 of the container, in the guest");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    /// <summary>`ps -ef` rows as dockerd prints them: UID PID PPID C STIME TTY TIME CMD.</summary>
    private static List<(int Pid, string Command)> Rows(string top) =>
        [.. top.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(line => line.Split(' ', 8, StringSplitOptions.RemoveEmptyEntries))
            .Select(f => (int.Parse(f[1], CultureInfo.InvariantCulture), f[7].Trim()))];
}
