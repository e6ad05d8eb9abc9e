using System.Diagnostics;
using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// A configuration the operator got wrong, seen through containerd: the task is refused with a message that names the
/// file and the problem, containerd can remove the container afterwards, and nothing of the attempt is left
/// (docs/reliability.md, "Hostile configuration").
/// </summary>
public sealed partial class CcShimTests
{
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task An_invalid_configuration_toml_refuses_the_task_naming_the_file_and_leaves_nothing(string containerd)
    {
        using var configuration = TestConfiguration.Raw("[hypervisor]\nmemory_mib = \"lots\n[agent\n");
        await using var s = await BeginAsync(containerd, RuntimeUnderTest.Cc.WithConfiguration(configuration.Path));
        var id = s.NewId("badtoml");

        var run = await s.CtrAsync(["run", "-d", .. s.Runtime.RunOptions, s.Image, id, "true"]);

        run.ExitCode.ShouldNotBe(0, s.Because(run));
        run.Stderr.ShouldContain(configuration.Path, customMessage: s.Because(run));
        await ShouldRemoveAndLeaveNothingAsync(s, id);
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task A_kernel_path_that_cannot_be_read_refuses_the_task_naming_key_and_path_and_leaves_nothing(string containerd)
    {
        var notAFile = Directory.CreateTempSubdirectory("cc-it-kernel-").FullName;
        try
        {
            using var configuration = TestConfiguration.Edited(line =>
                line.StartsWith("kernel = ", StringComparison.Ordinal) ? $"kernel = \"{notAFile}\"" : line);
            await using var s = await BeginAsync(containerd, RuntimeUnderTest.Cc.WithConfiguration(configuration.Path));
            var id = s.NewId("badkernel");

            var run = await s.CtrAsync(["run", "-d", .. s.Runtime.RunOptions, s.Image, id, "true"]);

            run.ExitCode.ShouldNotBe(0, s.Because(run));
            run.Stderr.ShouldContain($"Kernel.Path {notAFile} is a directory, not a file", customMessage: s.Because(run));
            await ShouldRemoveAndLeaveNothingAsync(s, id);
        }
        finally
        {
            Directory.Delete(notAFile);
        }
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task A_full_disk_under_run_dir_refuses_the_task_with_no_space_naming_the_file_and_leaves_nothing(string containerd)
    {
        // run_dir on a 256 KiB tmpfs of the test's own, filled to the last byte before the task is created.
        var runDirectory = $"/run/cc-it-full-{Guid.NewGuid():N}"[..24];
        Directory.CreateDirectory(runDirectory);
        (await Sh($"mount -t tmpfs -o size=256k cc-it-full {runDirectory}")).ShouldBe(0, "mount a small tmpfs as run_dir");
        try
        {
            await Sh($"dd if=/dev/zero of={runDirectory}/filler bs=4k 2>/dev/null; true");
            using var configuration = TestConfiguration.Edited(line =>
                line.StartsWith("run_dir = ", StringComparison.Ordinal) ? $"run_dir = \"{runDirectory}\"" : line);
            await using var s = await BeginAsync(containerd, RuntimeUnderTest.Cc.WithConfiguration(configuration.Path));
            var id = s.NewId("diskfull");

            var run = await s.CtrAsync(["run", "-d", .. s.Runtime.RunOptions, s.Image, id, "true"]);

            run.ExitCode.ShouldNotBe(0, s.Because(run));
            run.Stderr.ShouldContain("No space left on device", Case.Insensitive, s.Because(run));
            run.Stderr.ShouldContain(runDirectory, customMessage: s.Because(run));
            await ShouldRemoveAndLeaveNothingAsync(s, id);
            // Nothing of the attempt under the full run_dir either: no mount, no QEMU naming it, only the filler.
            File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Split(' ')[4].StartsWith(runDirectory + "/", StringComparison.Ordinal))
                .ShouldBeEmpty();
            Leftovers.QemuPids().Where(pid => CommandLine(pid).Contains(runDirectory, StringComparison.Ordinal)).ShouldBeEmpty();
            var left = Directory.EnumerateFileSystemEntries(runDirectory, "*", SearchOption.AllDirectories)
                .Where(p => p != Path.Combine(runDirectory, "filler") && p != Path.Combine(runDirectory, PrivateContainerd.Namespace))
                .ToList();
            left.ShouldBeEmpty($"left under the full run_dir:\n{string.Join('\n', left)}\n{s.LogSinceStart(60)}");
        }
        finally
        {
            await Sh($"umount {runDirectory}");
            Directory.Delete(runDirectory, recursive: true);
        }
    }

    /// <summary>containerd can remove the refused task's container; then nothing of it is left.</summary>
    private static async Task ShouldRemoveAndLeaveNothingAsync(ContainerdSession s, string id)
    {
        await s.ForceRemoveAsync(id);
        await s.ShouldLeaveNothingAsync(id);
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static async Task<int> Sh(string script)
    {
        using var sh = Process.Start("sh", ["-c", script]);
        await sh.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return sh.ExitCode;
    }
}
