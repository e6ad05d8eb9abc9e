using Cc.Shim.Logging;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Tests.Logging;

public sealed class GuestLineTests
{
    [Theory]
    [InlineData("cc-agent 01:02:03.456 info Cc.Agent.Service: container c1 started", LogLevel.Information, "Cc.Agent.Service: container c1 started")]
    [InlineData("cc-agent 01:02:03.456 dbug X: detail", LogLevel.Debug, "X: detail")]
    [InlineData("cc-agent 01:02:03.456 warn X: careful\r", LogLevel.Warning, "X: careful")]
    [InlineData("cc-agent 01:02:03.456 fail X: request failed", LogLevel.Error, "X: request failed")]
    public void The_agents_lines_keep_its_level_and_get_source_agent(string raw, LogLevel level, string text) =>
        GuestLine.Parse(raw).ShouldBe(new GuestLine(LogFields.AgentSource, level, text));

    [Theory]
    [InlineData("[    0.512] Kernel panic - not syncing: VFS: Unable to mount root fs")]
    [InlineData("Run /init as init process")]
    [InlineData("cc-agent but not its format")]
    public void Everything_else_is_the_guest_console_at_information(string raw) =>
        GuestLine.Parse(raw).ShouldBe(new GuestLine(LogFields.GuestConsoleSource, LogLevel.Information, raw));

    [Theory]
    [InlineData("")]
    [InlineData("\r")]
    [InlineData("qemu: terminating on signal 15")]
    public void Blank_lines_and_the_shims_own_qemu_lines_are_not_forwarded(string raw) =>
        GuestLine.Parse(raw).HasValue.ShouldBeFalse();
}
