using System.Diagnostics;
using Cc.Hypervisor.Qemu;
using Cc.TestKit;

namespace Cc.Hypervisor.Tests.Qemu;

/// <summary>Cleanup after a driver that died: stand-in processes play the orphaned QEMU and virtiofsd.</summary>
public sealed class QemuLeftoversTests : IDisposable
{
    private readonly string _run = Directory.CreateTempSubdirectory("cc-left-").FullName;
    private readonly List<Process> _started = [];

    // A sleeping process whose command line carries the given words, as QEMU's carries its run directory.
    // Debian's python3 itself, by path: sh would fork sleep (killing sh orphans it), and a version
    // manager's python3 shim forks helpers whose command lines carry the same words.
    private Process StartOrphan(params string[] words)
    {
        var info = new ProcessStartInfo("/usr/bin/python3", ["-c", "import time; time.sleep(60)", .. words]);
        var process = Process.Start(info)!;
        _started.Add(process);
        return process;
    }

    [Fact]
    public async Task The_QEMU_named_by_the_pid_file_and_the_virtiofsd_of_the_run_directory_are_killed_and_the_directory_removed()
    {
        Process qemu = StartOrphan("qemu", "-pidfile", Path.Combine(_run, "qemu.pid"));
        Process virtiofsd = StartOrphan("virtiofsd", "--socket-path=" + Path.Combine(_run, "virtiofsd.sock"));
        await File.WriteAllTextAsync(Path.Combine(_run, "qemu.pid"), qemu.Id + "\n");

        IReadOnlyList<int> killed = await QemuLeftovers.CleanupAsync(_run, null, CancellationToken.None).WithTimeout();

        killed.ShouldBe([qemu.Id, virtiofsd.Id], ignoreOrder: true);
        await qemu.WaitForExitAsync().WithTimeout();
        await virtiofsd.WaitForExitAsync().WithTimeout();
        Directory.Exists(_run).ShouldBeFalse();
    }

    [Fact]
    public async Task A_stale_pid_file_naming_an_unrelated_process_kills_nothing()
    {
        Process stranger = StartOrphan("unrelated");
        await File.WriteAllTextAsync(Path.Combine(_run, "qemu.pid"), stranger.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));

        IReadOnlyList<int> killed = await QemuLeftovers.CleanupAsync(_run, null, CancellationToken.None).WithTimeout();

        killed.ShouldBeEmpty();
        stranger.HasExited.ShouldBeFalse();
        Directory.Exists(_run).ShouldBeFalse();
    }

    public void Dispose()
    {
        foreach (Process process in _started)
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
            process.Dispose();
        }
        if (Directory.Exists(_run))
        {
            Directory.Delete(_run, recursive: true);
        }
    }
}
