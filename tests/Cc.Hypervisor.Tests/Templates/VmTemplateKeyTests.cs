using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Templates;

namespace Cc.Hypervisor.Tests.Templates;

/// <summary>The template key names the shape: the per-VM paths do not change it, anything the clone must share does.</summary>
public sealed class VmTemplateKeyTests : IDisposable
{
    private static readonly HostCapabilities Host = new(KvmUsable: false, QbootPath: null, TscKhz: 2_100_000, VhostVsock: false);
    private readonly string _dir = Directory.CreateTempSubdirectory("cc-key-").FullName;

    private VmConfig Config(string pod = "pod1") => new()
    {
        QemuPath = "/bin/sh",
        Kernel = new KernelConfig { Path = Path.Combine(_dir, "vmlinux"), InitramfsPath = Path.Combine(_dir, "initramfs.cpio") },
        RunDirectory = $"/run/cc/{pod}/vm",
        ConsoleLogPath = $"/run/cc/{pod}/console.log",
        Shared = new SharedDirectory { HostPath = $"/run/cc/{pod}/shared" },
        MemoryMiB = 512,
    };

    public VmTemplateKeyTests()
    {
        File.WriteAllText(Path.Combine(_dir, "vmlinux"), "kernel");
        File.WriteAllText(Path.Combine(_dir, "initramfs.cpio"), "initramfs");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Two_pods_of_the_same_shape_share_a_key_whatever_their_directories_and_memory_file()
    {
        var key = VmTemplateKey.For(Config("pod1"), Host);
        key.Length.ShouldBe(16);
        VmTemplateKey.For(Config("pod2") with { MemoryFile = new GuestMemoryFile("/t/memory", Shared: false), IncomingMigration = true }, Host)
            .ShouldBe(key);
    }

    [Fact]
    public void The_TCG_translation_cache_size_is_not_part_of_the_shape_so_a_clone_may_run_a_smaller_one()
    {
        // Host has no KVM: the command line says -accel tcg,tb-size=N, yet the cache is not in the saved state.
        var key = VmTemplateKey.For(Config() with { TcgTranslationCacheMiB = 64 }, Host);
        VmTemplateKey.For(Config() with { TcgTranslationCacheMiB = 16 }, Host).ShouldBe(key);
        QemuCommandLine.Build(Config() with { TcgTranslationCacheMiB = 16 }, RunLayout.For(Config()), Host)
            .ShouldContain("tcg,tb-size=16");
    }

    [Fact]
    public void Memory_vcpus_machine_and_kernel_parameters_each_name_another_template()
    {
        var key = VmTemplateKey.For(Config(), Host);
        string[] others =
        [
            VmTemplateKey.For(Config() with { MemoryMiB = 1024 }, Host),
            VmTemplateKey.For(Config() with { Vcpus = 2 }, Host),
            VmTemplateKey.For(Config() with { Machine = MachineType.Microvm }, Host),
            VmTemplateKey.For(Config() with { Kernel = Config().Kernel with { ExtraParameters = ["cc.share=late"] } }, Host),
            VmTemplateKey.For(Config() with { Rng = true }, Host),
            // The hot-plug headroom (docs/hotplug.md): a clone must have its template's maxmem/virtio-mem and maxcpus.
            VmTemplateKey.For(Config() with { MaxMemoryMiB = 4096 }, Host),
            VmTemplateKey.For(Config() with { MaxVcpus = 4 }, Host),
        ];
        others.ShouldAllBe(other => other != key);
        others.Distinct().Count().ShouldBe(others.Length);
    }

    [Fact]
    public void A_rebuilt_kernel_or_initramfs_at_the_same_path_names_another_template()
    {
        var key = VmTemplateKey.For(Config(), Host);
        File.AppendAllText(Path.Combine(_dir, "vmlinux"), " rebuilt");
        var afterKernel = VmTemplateKey.For(Config(), Host);
        afterKernel.ShouldNotBe(key);
        File.SetLastWriteTimeUtc(Path.Combine(_dir, "initramfs.cpio"), DateTime.UtcNow.AddMinutes(1));
        VmTemplateKey.For(Config(), Host).ShouldNotBe(afterKernel);
    }

    [Fact]
    public void Network_interfaces_are_not_part_of_the_shape_but_the_hot_plug_ports_that_take_them_are()
    {
        using var tap = new Microsoft.Win32.SafeHandles.SafeFileHandle(3, ownsHandle: false);
        var key = VmTemplateKey.For(Config() with { HotplugPorts = 4 }, Host);
        // A clone's NICs are hot-plugged after the restore: a pod with one names the same template as one without.
        VmTemplateKey.For(Config() with
        {
            HotplugPorts = 4,
            NetworkHotplug = true,
            NetworkInterfaces = [new NetworkInterfaceConfig { Tap = tap, MacAddress = "02:00:00:00:00:01" }],
        }, Host).ShouldBe(key);
        VmTemplateKey.For(Config(), Host).ShouldNotBe(key);
    }
}
