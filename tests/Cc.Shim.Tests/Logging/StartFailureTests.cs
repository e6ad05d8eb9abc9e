using Cc.Hypervisor;
using Cc.Shim.Sandbox;

namespace Cc.Shim.Tests.Logging;

/// <summary>A pod that does not start gets one line naming the cause, the fix and the troubleshooting entry.</summary>
public sealed class StartFailureTests
{
    private static readonly string[] NoConsole = [];

    [Fact]
    public void A_refused_configuration_names_the_key_and_says_to_run_check()
    {
        var failure = StartFailure.Classify(new VmConfigException("Kernel.Path /x does not exist"), 60, null, NoConsole);

        failure.Line("sb").ShouldBe("sandbox sb: the VM did not start: Kernel.Path /x does not exist. Fix: correct that value in the configuration "
            + "(`containerd-shim-cc-v2 env` shows which file sets it), then run `containerd-shim-cc-v2 check` "
            + "(see docs/troubleshooting.md, \"VM start: the configuration is refused\")");
    }

    [Fact]
    public void QEMU_refusing_the_kernel_file_points_at_hypervisor_kernel_with_QEMUs_own_words()
    {
        var failure = StartFailure.Classify(new VmStartException("QEMU exited with code 1 before its monitor answered",
            "qemu-system-x86_64: warning: something\nqemu: linux kernel too old to load a ram disk\n"), 60, 1, NoConsole);

        failure.Cause.ShouldBe("QEMU exited with code 1 before its monitor answered: qemu: linux kernel too old to load a ram disk");
        failure.Fix.ShouldStartWith("hypervisor.kernel must name the guest kernel");
        failure.Entry.ShouldBe("VM start: QEMU cannot load the guest kernel");
    }

    [Fact]
    public void QEMU_exiting_for_another_reason_keeps_its_last_word()
    {
        var failure = StartFailure.Classify(new VmStartException("QEMU exited with code 1 before its monitor answered",
            "qemu-system-x86_64: -device foo: 'foo' is not a valid device model name"), 60, 1, NoConsole);

        failure.Cause.ShouldEndWith("'foo' is not a valid device model name");
        failure.Entry.ShouldBe("VM start: QEMU exited");
    }

    [Fact]
    public void A_monitor_that_does_not_answer_says_to_raise_the_boot_timeout()
    {
        var failure = StartFailure.Classify(new VmStartException("QEMU's monitor /r/qmp.sock did not answer within 00:01:00", ""), 60, null, NoConsole);

        failure.Fix.ShouldContain("hypervisor.boot_timeout_seconds");
        failure.Entry.ShouldBe("VM start: QEMU's monitor did not answer");
    }

    [Fact]
    public void A_guest_panic_on_the_console_is_the_cause_whatever_the_host_saw()
    {
        string[] console = ["Run /init as init process", "[    1.2] Kernel panic - not syncing: Attempted to kill init!", "reboot"];

        var failure = StartFailure.Classify(new SandboxUnavailableException("QEMU exited with code 0 while the guest booted"), 60, 0, console);

        failure.Cause.ShouldBe("the guest kernel panicked: [    1.2] Kernel panic - not syncing: Attempted to kill init!");
        failure.Entry.ShouldBe("VM start: the guest kernel panicked");
    }

    [Fact]
    public void QEMU_exiting_while_the_guest_booted_names_its_code_and_the_last_console_line()
    {
        var failure = StartFailure.Classify(new SandboxUnavailableException("QEMU exited with code 137 while the guest booted"), 60, 137,
            ["Freeing unused kernel memory"]);

        failure.Cause.ShouldBe("QEMU exited with code 137 while the guest booted (Freeing unused kernel memory)");
        failure.Fix.ShouldContain("OOM");
        failure.Entry.ShouldBe("VM start: QEMU exited while the guest booted");
    }

    [Fact]
    public void An_agent_that_does_not_answer_names_the_bound_and_the_guests_last_line()
    {
        var failure = StartFailure.Classify(new TimeoutException("agent at unix:///r/agent.sock did not answer Check within 30 s"), 30, null,
            ["cc-agent 00:00:01.000 info Cc.Agent: mounting"]);

        failure.Cause.ShouldBe("agent at unix:///r/agent.sock did not answer Check within 30 s (the guest's last console line: cc-agent 00:00:01.000 info Cc.Agent: mounting)");
        failure.Fix.ShouldContain("hypervisor.boot_timeout_seconds = 30");
        failure.Entry.ShouldBe("VM start: the agent did not answer");
    }

    [Theory]
    [InlineData("info", false, "info")]
    [InlineData("info", true, "debug")]
    [InlineData("error", true, "debug")]
    [InlineData("trace", true, "trace")]
    [InlineData("trace", false, "trace")]
    public void The_agents_level_follows_a_debug_shim(string configured, bool shimDebug, string effective) =>
        GuestVmConfig.AgentLogLevel(configured, shimDebug).ShouldBe(effective);
}
