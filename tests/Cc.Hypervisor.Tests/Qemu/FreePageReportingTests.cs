using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Templates;

namespace Cc.Hypervisor.Tests.Qemu;

/// <summary>virtio-balloon with free page reporting (docs/performance.md): on request only, on the VM's bus, never on a
/// clone's private file-backed RAM, and part of a template's key like every device.</summary>
public sealed class FreePageReportingTests
{
    private static readonly HostCapabilities Host = new(KvmUsable: false, QbootPath: null, TscKhz: null, VhostVsock: false);

    private static VmConfig Config() => new()
    {
        Kernel = new KernelConfig { Path = "/g/vmlinux", InitramfsPath = "/g/initramfs.cpio" },
        RunDirectory = "/run/cc/pod1",
    };

    private static string Argv(VmConfig config) =>
        string.Join(' ', QemuCommandLine.Build(config, RunLayout.For(config), Host));

    [Fact]
    public void The_balloon_is_added_only_when_asked_for_on_the_machines_virtio_bus()
    {
        Argv(Config()).ShouldNotContain("virtio-balloon");
        Argv(Config() with { FreePageReporting = true })
            .ShouldContain("-device virtio-balloon-pci,id=cc-balloon,free-page-reporting=on");
        Argv(Config() with { FreePageReporting = true, Machine = MachineType.Microvm })
            .ShouldContain("-device virtio-balloon-device,id=cc-balloon,free-page-reporting=on");
    }

    [Fact]
    public void A_clone_s_private_RAM_file_refuses_it_and_a_template_s_shared_one_or_anonymous_RAM_accepts_it()
    {
        Should.Throw<VmConfigException>(() => VmConfigValidation.CheckFreePageReporting(Config() with
        {
            FreePageReporting = true,
            MemoryFile = new GuestMemoryFile("/run/t/k/memory", Shared: false),
        })).Message.ShouldContain("template's file");
        VmConfigValidation.CheckFreePageReporting(Config() with { FreePageReporting = true });
        VmConfigValidation.CheckFreePageReporting(Config() with
        {
            FreePageReporting = true,
            MemoryFile = new GuestMemoryFile("/run/t/k/memory", Shared: true),
        });
        VmConfigValidation.CheckFreePageReporting(Config() with { MemoryFile = new GuestMemoryFile("/run/t/k/memory", Shared: false) });
    }

    [Fact]
    public void It_names_another_template() =>
        VmTemplateKey.For(Config() with { FreePageReporting = true }, Host).ShouldNotBe(VmTemplateKey.For(Config(), Host));
}
