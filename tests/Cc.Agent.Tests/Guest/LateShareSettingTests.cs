using Cc.Agent.Guest;

namespace Cc.Agent.Tests.Guest;

/// <summary>cc.share (docs/templates.md): a template's guest mounts the 9p share at CreateSandbox, not at boot.</summary>
public sealed class LateShareSettingTests
{
    [Fact]
    public void The_share_is_mounted_at_boot_unless_the_command_line_says_late()
    {
        AgentSettings.Parse("console=ttyS0", []).MountShareAtBoot.ShouldBeTrue();
        AgentSettings.Parse("cc.share=boot", []).MountShareAtBoot.ShouldBeTrue();
        AgentSettings.Parse("quiet cc.share=late rdinit=/init", []).MountShareAtBoot.ShouldBeFalse();
    }

    [Fact]
    public void Another_value_is_an_error_naming_it() =>
        Should.Throw<ArgumentException>(() => AgentSettings.Parse("cc.share=never", [])).Message.ShouldContain("cc.share");
}
