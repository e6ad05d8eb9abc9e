using Cc.Agent.Guest;

namespace Cc.Agent.Tests.Guest;

/// <summary>The kernel's steps of the boot timeline, read from its log lines' timestamps (klogctl's text format).</summary>
public sealed class BootTimelineTests
{
    private const string Log =
        "<6>[    0.000000] Linux version 6.1.0-57-amd64\n" +
        "<5>[    0.412345] Trying to unpack rootfs image as initramfs...\n" +
        "<6>[    0.611000] Freeing initrd memory: 16104K\n" +
        "<6>[    0.700500] Freeing unused kernel image (initmem) memory: 2920K\n" +
        "<6>[    0.701000] Run /init as init process\n" +
        "<6>[    0.900000] Freeing initrd memory: 4K\n" +
        "<6>[ not a time] Run /init as init process\n";

    [Fact]
    public void Each_kernel_step_is_taken_from_the_first_line_that_names_it_with_its_timestamp() =>
        BootTimeline.ParseKernelLog(Log).ToArray().ShouldBe(new (string, double)[]
        {
            ("kernel: initramfs unpack begins", 0.412345),
            ("kernel: initramfs unpacked", 0.611),
            ("kernel: init memory freed", 0.7005),
            ("kernel: runs /init", 0.701),
        });

    [Fact]
    public void A_step_marked_twice_keeps_its_first_time()
    {
        BootTimeline.Mark("test step marked twice");
        var first = BootTimeline.Steps().Single(s => s.Step == "test step marked twice").Seconds;
        BootTimeline.Mark("test step marked twice");
        BootTimeline.Steps().Single(s => s.Step == "test step marked twice").Seconds.ShouldBe(first);
    }
}
