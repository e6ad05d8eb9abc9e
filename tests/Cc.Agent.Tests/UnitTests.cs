using System.Text;
using System.Text.Json.Nodes;
using Cc.Agent.Containers;
using Cc.Agent.Guest;
using Cc.Agent.Processes;
using Cc.Agent.Runtime;
using Cc.Agent.Tests.Fixtures;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Tests;

public sealed class ExitStatusTests
{
    [Theory]
    [InlineData(0x0000, 0)]
    [InlineData(0x0300, 3)]
    [InlineData(0xff00, 255)]
    [InlineData(0x0009, 137)]
    [InlineData(0x000f, 143)]
    [InlineData(0x0086, 134)] // SIGABRT with the core-dump bit set
    public void A_wait_status_decodes_to_the_exit_code_or_128_plus_the_signal(int raw, int expected)
    {
        ExitStatus.FromWaitStatus(raw, DateTimeOffset.UnixEpoch).Code.ShouldBe(expected);
    }
}

public sealed class AgentSettingsTests
{
    [Fact]
    public void The_kernel_command_line_sets_log_level_port_and_vsock_port_and_ignores_the_rest()
    {
        var settings = AgentSettings.Parse("console=ttyS0 quiet cc.log=debug cc.port=my.port cc.vsock=2048 rdinit=/init\n", []);

        settings.LogLevel.ShouldBe(LogLevel.Debug);
        settings.PortName.ShouldBe("my.port");
        settings.VsockPort.ShouldBe(2048u);
        settings.Listen.ShouldBeNull();
    }

    [Fact]
    public void Without_settings_the_defaults_of_the_guest_contract_apply()
    {
        var settings = AgentSettings.Parse("console=ttyS0", []);

        settings.PortName.ShouldBe("cc.agent.0");
        settings.VsockPort.ShouldBe(1024u);
        settings.LogLevel.ShouldBe(LogLevel.Information);
        settings.Options.ContainersDirectory.ShouldBe("/run/cc/containers");
        settings.Options.RootfsDirectory.ShouldBe("/run/cc/shared/containers");
    }

    [Fact]
    public void Arguments_override_the_directories_and_add_runtime_arguments()
    {
        var settings = AgentSettings.Parse("", ["--listen", "unix:///tmp/a.sock", "--runtime", "/x/crun", "--runtime-arg", "--root=/r",
            "--runtime-arg", "--cgroup-manager=disabled", "--containers-dir", "/c", "--rootfs-dir", "/s"]);

        settings.Listen.ShouldBe("unix:///tmp/a.sock");
        settings.Options.RuntimePath.ShouldBe("/x/crun");
        settings.Options.RuntimeGlobalArguments.ShouldBe(["--root=/r", "--cgroup-manager=disabled"]);
        settings.Options.ContainersDirectory.ShouldBe("/c");
        settings.Options.RootfsDirectory.ShouldBe("/s");
    }

    [Theory]
    [InlineData("cc.log=loud")]
    [InlineData("cc.vsock=abc")]
    [InlineData("cc.port=")]
    public void A_bad_value_of_ours_is_an_error_that_names_it(string commandLine)
    {
        Should.Throw<ArgumentException>(() => AgentSettings.Parse(commandLine, [])).Message.ShouldContain("cc.");
    }

    [Fact]
    public void An_unknown_argument_is_an_error()
    {
        Should.Throw<ArgumentException>(() => AgentSettings.Parse("", ["--frobnicate"])).Message.ShouldContain("--frobnicate");
    }
}

public sealed class OciSpecTests
{
    [Fact]
    public void The_config_gets_the_guest_rootfs_and_terminal_and_loses_host_namespace_paths_and_hooks()
    {
        var spec = BusyboxBundle.SpecObject("sh");
        spec["hooks"] = new JsonObject { ["prestart"] = new JsonArray(new JsonObject { ["path"] = "/host/hook" }) };
        spec["annotations"] = new JsonObject { ["keep"] = "me" };
        spec["linux"]!["namespaces"]!.AsArray().Single(n => n!["type"]!.GetValue<string>() == "ipc")!["path"] = "/proc/1/ns/ipc";

        var rewritten = JsonNode.Parse(OciSpec.RewriteConfig(Encoding.UTF8.GetBytes(spec.ToJsonString()), "/run/cc/shared/containers/x/rootfs", terminal: true))!;

        rewritten["root"]!["path"]!.GetValue<string>().ShouldBe("/run/cc/shared/containers/x/rootfs");
        rewritten["process"]!["terminal"]!.GetValue<bool>().ShouldBeTrue();
        rewritten["hooks"].ShouldBeNull();
        rewritten["annotations"]!["keep"]!.GetValue<string>().ShouldBe("me");
        var ipc = rewritten["linux"]!["namespaces"]!.AsArray().Single(n => n!["type"]!.GetValue<string>() == "ipc")!;
        ipc["path"].ShouldBeNull();
    }

    [Fact]
    public void An_exec_process_without_cwd_gets_root_and_the_terminal_flag()
    {
        var process = BusyboxBundle.Process("true");
        process.Remove("cwd");

        var rewritten = JsonNode.Parse(OciSpec.RewriteProcess(Encoding.UTF8.GetBytes(process.ToJsonString()), terminal: false))!;

        rewritten["cwd"]!.GetValue<string>().ShouldBe("/");
        rewritten["terminal"]!.GetValue<bool>().ShouldBeFalse();
    }

    [Fact]
    public void An_empty_process_document_is_rejected_as_malformed()
    {
        Should.Throw<AgentErrorException>(() => OciSpec.RewriteProcess([], false)).Kind.ShouldBe(AgentErrorKind.InvalidArgument);
    }
}
