using System.Globalization;
using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// Resources of a running container as Docker reports and changes them: `docker stats` from the guest's cgroup,
/// `docker update` applied live to it (read back from inside the container), and the OOM killer's verdict. runc (on this
/// cgroup v1 host) is the reference; each command inside a container starts with `uname -r`, the guest kernel under cc.
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerResourceTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    /// <summary>Prints the memory limit and the CFS quota of the container's own cgroup: v2 files, else v1's.</summary>
    private const string ReadLimits =
        "if [ -f /sys/fs/cgroup/memory.max ]; then cat /sys/fs/cgroup/memory.max; cut -d' ' -f1 /sys/fs/cgroup/cpu.max; "
        + "else cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us; fi";

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Docker_stats_reports_the_memory_the_container_uses_and_it_grows_by_what_it_allocates(string runtime)
    {
        var id = await StartSleeperAsync(runtime, ["-m", "256m"]);
        try
        {
            var before = await MemoryUsageAsync(id);
            (await ExecAsync(runtime, id, "head -c 50m /dev/zero > /dev/shm/x; echo written")).ShouldBe(["written"]);
            var after = await MemoryUsageAsync(id);

            before.ShouldBeGreaterThan(0);
            (after - before).ShouldBeGreaterThanOrEqualTo(45L << 20, $"before {before} B, after {after} B");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Docker_update_changes_the_memory_limit_and_cpu_quota_the_container_reads_from_its_cgroup(string runtime)
    {
        var id = await StartSleeperAsync(runtime, ["-m", "256m", "--memory-swap", "256m", "--cpus", "1.5"]);
        try
        {
            var before = await ExecAsync(runtime, id, ReadLimits);
            await DockerOkAsync("update", "--memory", "128m", "--memory-swap", "128m", "--cpus", "0.5", id);
            var after = await ExecAsync(runtime, id, ReadLimits);

            before.ShouldBe(["268435456", "150000"]);
            after.ShouldBe(["134217728", "50000"]);
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    /// <summary>
    /// `tail` of /dev/zero keeps the whole (newline-free) input in memory: past `-m 32m` (no swap) the kernel's OOM
    /// killer ends it, Docker reports 137 and OOMKilled.
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task A_process_allocating_past_its_memory_limit_is_oom_killed_with_137(string runtime)
    {
        var id = await DockerOkAsync("run", "-d", "--runtime", runtime, "-m", "32m", "--memory-swap", "32m", Image, "tail", "/dev/zero");
        try
        {
            (await DockerOkAsync("wait", id)).ShouldBe("137");
            (await DockerOkAsync("inspect", "-f", "{{.State.OOMKilled}}", id)).ShouldBe("true");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    /// <summary>An exec OOM-killed in its container: 137, the container is marked OOMKilled, and the VM still runs execs.</summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task An_oom_killed_exec_leaves_the_container_and_its_vm_serving(string runtime)
    {
        var id = await StartSleeperAsync(runtime, ["-m", "32m", "--memory-swap", "32m"]);
        try
        {
            var oom = await Docker.DockerAsync(RunTimeout, CancellationToken.None, ["exec", id, "tail", "/dev/zero"]);
            oom.ExitCode.ShouldBe(137, oom.Describe());

            (await ExecAsync(runtime, id, "echo alive")).ShouldBe(["alive"]);
            (await DockerOkAsync("inspect", "-f", "{{.State.OOMKilled}} {{.State.Running}}", id)).ShouldBe("true true");
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    /// <summary>`docker run -d` of a container that sleeps, once its first line proves where it runs.</summary>
    private async Task<string> StartSleeperAsync(string runtime, IEnumerable<string> options)
    {
        var id = await DockerOkAsync(["run", "-d", "--runtime", runtime, .. options, Image, "sh", "-c", "uname -r; exec sleep 1234"]);
        await using var logs = Docker.StartDocker("logs", "-f", id);
        await logs.WaitForStdoutAsync(KernelOf(runtime), RunTimeout, CancellationToken.None);
        return id;
    }

    /// <summary>`docker exec ID sh -c 'uname -r; SCRIPT'`: checks where it ran and returns the script's lines.</summary>
    private async Task<IReadOnlyList<string>> ExecAsync(string runtime, string id, string script)
    {
        var output = await DockerOkAsync("exec", id, "sh", "-c", $"uname -r; {script}");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        lines[0].ShouldBe(KernelOf(runtime), output);
        return lines[1..];
    }

    /// <summary>The usage half of `docker stats --no-stream`'s MEM USAGE ("1.949MiB / 256MiB"), in bytes.</summary>
    private async Task<long> MemoryUsageAsync(string id)
    {
        var usage = await DockerOkAsync("stats", "--no-stream", "--format", "{{.MemUsage}}", id);
        return ParseSize(usage.Split('/')[0].Trim());
    }

    internal static long ParseSize(string text)
    {
        (string Unit, long Factor)[] units = [("GiB", 1L << 30), ("MiB", 1L << 20), ("KiB", 1L << 10), ("kB", 1000), ("B", 1)];
        foreach (var (unit, factor) in units)
        {
            if (text.EndsWith(unit, StringComparison.Ordinal))
            {
                return (long)(double.Parse(text[..^unit.Length], CultureInfo.InvariantCulture) * factor);
            }
        }

        throw new FormatException($"not a docker size: '{text}'");
    }
}
