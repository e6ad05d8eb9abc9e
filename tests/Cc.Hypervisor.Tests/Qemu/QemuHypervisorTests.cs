using Cc.Hypervisor.Qemu;
using Cc.TestKit;

namespace Cc.Hypervisor.Tests.Qemu;

/// <summary>
/// StartAsync's checks and failure paths, with shell scripts standing in for QEMU (real QEMU runs in
/// integration/Cc.Integration.Vm). Whatever fails, nothing may be left behind.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class QemuHypervisorTests : IDisposable
{
    private static readonly HostCapabilities Host = new(KvmUsable: false, QbootPath: null, TscKhz: null, VhostVsock: false);
    private readonly string _scratch = Directory.CreateTempSubdirectory("cc-hv-").FullName;

    private string Run => Path.Combine(_scratch, "run");

    private VmConfig Config(string qemuScript)
    {
        string kernel = Path.Combine(_scratch, "vmlinux");
        string initramfs = Path.Combine(_scratch, "initramfs.cpio");
        File.WriteAllText(kernel, "");
        File.WriteAllText(initramfs, "");
        string qemu = Path.Combine(_scratch, "fake-qemu");
        File.WriteAllText(qemu, "#!/bin/sh\n" + qemuScript + "\n");
        File.SetUnixFileMode(qemu, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return new VmConfig
        {
            QemuPath = qemu,
            Kernel = new KernelConfig { Path = kernel, InitramfsPath = initramfs },
            RunDirectory = Run,
            StartTimeout = TimeSpan.FromSeconds(1),
        };
    }

    [Fact]
    public async Task A_QEMU_that_exits_at_once_fails_start_with_its_stderr_and_leaves_no_run_directory()
    {
        VmConfig config = Config("echo 'qemu-system-x86_64: -device foo: not found' >&2; exit 1");

        var error = await Should.ThrowAsync<VmStartException>(() => new QemuHypervisor(host: Host).StartAsync(config, CancellationToken.None).WithTimeout());

        error.Message.ShouldContain("exited with code 1");
        error.Diagnostics.ShouldBe("qemu-system-x86_64: -device foo: not found");
        Directory.Exists(Run).ShouldBeFalse();
    }

    [Fact]
    public async Task A_QEMU_whose_monitor_never_answers_is_killed_when_the_start_timeout_passes()
    {
        string pidFile = Path.Combine(_scratch, "pid");
        VmConfig config = Config($"echo $$ > {pidFile}; exec sleep 60");

        var error = await Should.ThrowAsync<VmStartException>(() => new QemuHypervisor(host: Host).StartAsync(config, CancellationToken.None).WithTimeout());

        error.Message.ShouldContain("did not answer within");
        int pid = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Directory.Exists($"/proc/{pid}").ShouldBeFalse("the stand-in QEMU must be killed and reaped");
        Directory.Exists(Run).ShouldBeFalse();
    }

    [Fact]
    public async Task A_missing_kernel_is_a_config_error_before_anything_starts()
    {
        VmConfig config = Config("exit 0") with { Kernel = new KernelConfig { Path = "/nonexistent/vmlinux", InitramfsPath = "/nonexistent/i" } };

        var error = await Should.ThrowAsync<VmConfigException>(() => new QemuHypervisor(host: Host).StartAsync(config, CancellationToken.None).WithTimeout());

        error.Message.ShouldBe("Kernel.Path /nonexistent/vmlinux does not exist");
        Directory.Exists(Run).ShouldBeFalse();
    }

    [Fact]
    public async Task A_kernel_path_that_names_a_directory_is_a_config_error_naming_key_and_path_before_anything_starts()
    {
        var directory = Directory.CreateTempSubdirectory("cc-kernel-dir-").FullName;
        try
        {
            VmConfig config = Config("exit 0") with { Kernel = new KernelConfig { Path = directory, InitramfsPath = directory } };

            var error = await Should.ThrowAsync<VmConfigException>(() => new QemuHypervisor(host: Host).StartAsync(config, CancellationToken.None).WithTimeout());

            error.Message.ShouldBe($"Kernel.Path {directory} is a directory, not a file");
            Directory.Exists(Run).ShouldBeFalse();
        }
        finally
        {
            Directory.Delete(directory);
        }
    }

    [Fact]
    public async Task A_run_directory_that_holds_files_is_refused_and_left_untouched()
    {
        VmConfig config = Config("exit 0");
        Directory.CreateDirectory(Run);
        File.WriteAllText(Path.Combine(Run, "qmp.sock"), "another VM's");

        var error = await Should.ThrowAsync<VmConfigException>(() => new QemuHypervisor(host: Host).StartAsync(config, CancellationToken.None).WithTimeout());

        error.Message.ShouldContain("not empty");
        File.ReadAllText(Path.Combine(Run, "qmp.sock")).ShouldBe("another VM's");
    }

    [Fact]
    public async Task The_vsock_transport_on_a_host_without_vhost_vsock_is_a_config_error_that_names_the_alternative()
    {
        VmConfig config = Config("exit 0") with { Agent = new VsockTransport(3) };

        var error = await Should.ThrowAsync<VmConfigException>(() => new QemuHypervisor(host: Host).StartAsync(config, CancellationToken.None).WithTimeout());

        error.Message.ShouldContain("/dev/vhost-vsock");
        error.Message.ShouldContain("virtio-serial");
    }

    [Fact]
    public async Task A_run_directory_too_long_for_a_unix_socket_path_is_a_config_error()
    {
        VmConfig config = Config("exit 0") with { RunDirectory = "/run/" + new string('x', 100) };

        var error = await Should.ThrowAsync<VmConfigException>(() => new QemuHypervisor(host: Host).StartAsync(config, CancellationToken.None).WithTimeout());

        error.Message.ShouldContain("longer than 107 bytes");
    }

    [Fact]
    public async Task An_unknown_agent_log_level_is_a_config_error()
    {
        VmConfig config = Config("exit 0");
        config = config with { Kernel = config.Kernel with { AgentLogLevel = "verbose" } };

        var error = await Should.ThrowAsync<VmConfigException>(() => new QemuHypervisor(host: Host).StartAsync(config, CancellationToken.None).WithTimeout());

        error.Message.ShouldContain("trace|debug|info|warn|error");
    }

    public void Dispose() => Directory.Delete(_scratch, recursive: true);
}
