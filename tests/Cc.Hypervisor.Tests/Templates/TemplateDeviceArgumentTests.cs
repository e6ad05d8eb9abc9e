using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Qemu.Devices;

namespace Cc.Hypervisor.Tests.Templates;

/// <summary>The arguments that make a template (shared memory file) and a clone (private mapping, deferred incoming).</summary>
public sealed class TemplateDeviceArgumentTests
{
    private static readonly HostCapabilities Host = new(KvmUsable: false, QbootPath: null, TscKhz: null, VhostVsock: false);

    [Fact]
    public void A_template_writes_its_RAM_through_to_a_shared_file_named_by_the_machine() =>
        new MemoryFileDevice("/run/t/k/memory", Shared: true, 512).Arguments().ShouldBe(
        [
            "-object", "memory-backend-file,id=cc-ram,size=512M,mem-path=/run/t/k/memory,share=on",
            "-machine", "memory-backend=cc-ram",
        ]);

    [Fact]
    public void A_clone_maps_the_file_private_and_waits_for_its_state()
    {
        var argv = QemuCommandLine.Build(new VmConfig
        {
            Kernel = new KernelConfig { Path = "/g/vmlinux", InitramfsPath = "/g/initramfs.cpio" },
            RunDirectory = "/run/cc/pod1",
            MemoryFile = new GuestMemoryFile("/run/t/k/memory", Shared: false),
            IncomingMigration = true,
        }, new RunLayout("/run/cc/pod1", "/run/cc/pod1/console.log"), Host);
        string.Join(' ', argv).ShouldContain(
            "-smp 1 -m 256M -object memory-backend-file,id=cc-ram,size=256M,mem-path=/run/t/k/memory,share=off -machine memory-backend=cc-ram");
        argv.TakeLast(2).ShouldBe(["-incoming", "defer"]);
    }
}
