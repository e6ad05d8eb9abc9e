using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Install;

/// <summary>
/// `containerd-shim-cc-v2 check` and `env`, the built NativeAOT binary run as an operator would: on this host (QEMU,
/// the guest image of build/guest, containerd 1.6, no usable /dev/kvm) check says ready with the TCG warning, and on a
/// host whose KVM runs guests it says ok (decided by booting the guest kernel under accel=kvm, not by the shim's probe); with a
/// configuration naming a missing kernel it exits non-zero on a line naming that kernel; env names each value's source.
/// </summary>
[Trait("Category", "Install")]
public sealed class OperateCommandTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(90);
    private readonly string _dir = Directory.CreateTempSubdirectory("cc-operate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<ProcessResult> Shim(params string[] args) =>
        ProcessRunner.RunAsync(RepoPaths.ShimBinary, args, s_timeout, CancellationToken.None);

    private static string LineOf(string output, string subject)
    {
        var lines = output.Split('\n').Where(l => l.Length > 5 && l[5..].StartsWith(subject + ":", StringComparison.Ordinal)).ToList();
        lines.Count.ShouldBe(1, $"one line for {subject} in:\n{output}");
        return lines[0];
    }

    [Fact]
    public async Task Check_on_this_host_is_ready_with_one_line_per_fact_and_warns_of_tcg_without_a_usable_kvm()
    {
        var check = await Shim("check", "--config", RepoPaths.ShimConfiguration);

        check.ExitCode.ShouldBe(0, check.Describe());
        var release = File.ReadAllText(RepoPaths.GuestKernelVersion).Trim();
        LineOf(check.Stdout, "configuration").ShouldBe($"ok   configuration: {RepoPaths.ShimConfiguration}");
        LineOf(check.Stdout, "qemu").ShouldStartWith("ok   qemu: ");
        LineOf(check.Stdout, "qemu").ShouldContain("QEMU emulator version");
        LineOf(check.Stdout, "kernel").ShouldBe($"ok   kernel: {RepoPaths.Build("guest/vmlinux")}: Linux {release}");
        LineOf(check.Stdout, "initramfs").ShouldStartWith($"ok   initramfs: {RepoPaths.Build("guest/initramfs.cpio")}: ");
        LineOf(check.Stdout, "initramfs").ShouldContain($"built for the kernel's {release}");
        LineOf(check.Stdout, "9p").ShouldContain("virtio-9p-pci");
        LineOf(check.Stdout, "containerd").ShouldStartWith("ok   containerd: containerd ");
        LineOf(check.Stdout, "cgroups").ShouldStartWith("ok   cgroups: ");
        LineOf(check.Stdout, "run directory").ShouldStartWith("ok   run directory: ");
        LineOf(check.Stdout, "vhost-vsock").ShouldStartWith("ok   vhost-vsock: ");
        // Whether KVM can run a guest here is decided without the shim's probe (GuestBootsUnderKvmAsync), and check
        // must agree: a /dev/kvm that exists (even one that opens and creates VMs) but cannot run a guest is unusable.
        var kvm = LineOf(check.Stdout, "kvm");
        if (await GuestBootsUnderKvmAsync())
        {
            kvm.ShouldStartWith("ok   kvm: /dev/kvm runs a guest", customMessage: check.Describe());
            check.Stdout.ShouldContain("ready: this host can run pods", customMessage: check.Describe());
        }
        else
        {
            kvm.ShouldStartWith("warn kvm: unusable: ", customMessage: check.Describe());
            kvm.ShouldEndWith("; falling back to TCG (software emulation: pods start and run many times slower)");
            if (!File.Exists("/dev/kvm"))
            {
                kvm.ShouldBe("warn kvm: unusable: /dev/kvm does not exist; falling back to TCG (software emulation: pods start and run many times slower)");
            }
            check.Stdout.ShouldContain("ready: this host can run pods (1 warning)", customMessage: check.Describe());
        }
    }

    /// <summary>
    /// Whether KVM runs a guest on this host, found without the shim: the CPU advertises vmx or svm (the shim's accel=auto
    /// needs them too), and the guest kernel booted by QEMU with <c>accel=kvm</c> (no TCG fallback) prints its banner
    /// within 60 s. Without /dev/kvm QEMU refuses to start; a nested or sandboxed /dev/kvm that opens and creates VMs but
    /// cannot run one stops the vCPU with a KVM internal error (emulation failure) before the kernel prints anything.
    /// </summary>
    private static async Task<bool> GuestBootsUnderKvmAsync()
    {
        var flags = File.ReadAllText("/proc/cpuinfo").Split('\n').FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? "";
        if (!flags.Split(' ', ':', '\t').Any(f => f is "vmx" or "svm"))
        {
            return false;
        }
        await using var qemu = new RunningProcess("qemu-system-x86_64",
        [
            "-machine", "q35,accel=kvm", "-cpu", "host", "-m", "256", "-display", "none", "-nodefaults", "-no-reboot",
            "-serial", "stdio", "-kernel", RepoPaths.Build("guest/vmlinux"), "-append", "console=ttyS0 panic=-1",
        ], null);
        try
        {
            await qemu.WaitForStdoutAsync("Linux version", TimeSpan.FromSeconds(60), CancellationToken.None);
            return true;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            return false;
        }
    }

    [Fact]
    public async Task Check_with_a_missing_kernel_exits_non_zero_on_a_line_naming_it()
    {
        var missing = Path.Combine(_dir, "no-such-vmlinux");
        var config = Path.Combine(_dir, "broken.toml");
        File.WriteAllText(config, File.ReadAllText(RepoPaths.ShimConfiguration)
            .Replace($"kernel = \"{RepoPaths.Build("guest/vmlinux")}\"", $"kernel = \"{missing}\"", StringComparison.Ordinal));
        File.ReadAllText(config).ShouldContain(missing);

        var check = await Shim("check", "--config", config);

        check.ExitCode.ShouldBe(1, check.Describe());
        LineOf(check.Stdout, "kernel").ShouldBe($"FAIL kernel: {missing} does not exist (hypervisor.kernel; `make guest`, or `make install`)");
        check.Stdout.ShouldContain("not ready: pods cannot run here until the FAIL line above is fixed (1)");
        LineOf(check.Stdout, "initramfs").ShouldStartWith("warn initramfs: ");
        // The other facts are still reported.
        LineOf(check.Stdout, "qemu").ShouldStartWith("ok   qemu: ");
    }

    [Fact]
    public async Task Check_with_an_unparsable_configuration_fails_naming_the_file()
    {
        var config = Path.Combine(_dir, "bad.toml");
        File.WriteAllText(config, "[hypervisor\nkernel = 1\n");

        var check = await Shim("check", "--config", config);

        check.ExitCode.ShouldBe(1, check.Describe());
        check.Stdout.ShouldStartWith($"FAIL configuration: {config}");
    }

    [Fact]
    public async Task Env_prints_every_key_with_its_value_and_source()
    {
        var config = Path.Combine(_dir, "options.toml");
        File.WriteAllText(config, "[hypervisor]\nkernel = \"/opt/k/vmlinux\"\nmemory_mib = 768\n");

        var env = await Shim("env", "--config", config);

        env.ExitCode.ShouldBe(0, env.Describe());
        var lines = env.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.ShouldContain(l => l.StartsWith("hypervisor.kernel = \"/opt/k/vmlinux\" ", StringComparison.Ordinal)
            && l.EndsWith($"# runtime options ConfigPath {config}", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("hypervisor.memory_mib = 768 ", StringComparison.Ordinal)
            && l.EndsWith($"# runtime options ConfigPath {config}", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("agent.create_timeout_seconds = 60 ", StringComparison.Ordinal) && l.EndsWith("# default", StringComparison.Ordinal));
        // runtime.debug comes from the runtime options' file like the rest (start reads it); this one does not set it.
        lines.ShouldContain(l => l.StartsWith("runtime.debug = false ", StringComparison.Ordinal) && l.EndsWith("# default", StringComparison.Ordinal));
        // Every key of the configuration reference, each once (the list grows with the configuration, not this test).
        lines.Count(l => l.Contains(" = ", StringComparison.Ordinal) && !l.StartsWith('#')).ShouldBe(Cc.Shim.Operate.ConfigurationKeys.All.Count);
        foreach (var key in Cc.Shim.Operate.ConfigurationKeys.All)
        {
            lines.Count(l => l.StartsWith(key.FullName + " = ", StringComparison.Ordinal)).ShouldBe(1, key.FullName);
        }
        lines.ShouldContain(l => l.StartsWith("# environment:", StringComparison.Ordinal));
    }
}
