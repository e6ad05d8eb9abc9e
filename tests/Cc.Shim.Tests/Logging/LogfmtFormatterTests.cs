using Cc.Shim.Logging;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Tests.Logging;

/// <summary>The shim's log lines as containerd keeps them: one logrus-shaped line each, with the pod's ids as fields.</summary>
public sealed class LogfmtFormatterTests
{
    [Fact]
    public void Every_line_carries_sandbox_namespace_and_runtime_after_time_level_and_msg()
    {
        using var log = new CapturedLog(sandbox: "pod-abc", @namespace: "k8s.io");

        log.Logger().LogInformation("VM booted in {Seconds} s", 3);

        var line = log.Lines.ShouldHaveSingleItem();
        line.ShouldMatch("""^time="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}[+-]\d\d:\d\d" level=info msg="VM booted in 3 s" sandbox=pod-abc namespace=k8s.io runtime=io.containerd.cc.v2$""");
    }

    [Fact]
    public async Task A_task_scope_adds_container_and_exec_to_every_line_logged_in_it_even_from_another_task_and_logger()
    {
        using var log = new CapturedLog();

        using (LogFields.BeginTask("ctr-1", "exec-7"))
        {
            log.Logger("A").LogInformation("in scope");
            await Task.Run(() => log.Logger("B").LogWarning("from a task started in scope"));
        }
        using (LogFields.BeginTask("ctr-2"))
        {
            log.Logger().LogInformation("init process");
        }
        log.Logger().LogInformation("outside");

        var lines = log.Lines;
        lines[0].ShouldContain(" sandbox=sb-1 container=ctr-1 exec=exec-7 namespace=k8s.io");
        lines[1].ShouldContain("level=warning msg=\"from a task started in scope\" sandbox=sb-1 container=ctr-1 exec=exec-7 ");
        lines[2].ShouldContain(" sandbox=sb-1 container=ctr-2 namespace=");
        lines[2].ShouldNotContain("exec=");
        lines[3].ShouldNotContain("container=");
    }

    [Fact]
    public void A_source_scope_comes_first_among_the_fields()
    {
        using var log = new CapturedLog();

        using (LogFields.BeginSource(LogFields.AgentSource))
        {
            log.Logger().LogInformation("hello");
        }

        log.Lines.ShouldHaveSingleItem().ShouldContain("msg=hello source=agent sandbox=sb-1 ");
    }

    [Fact]
    public void String_arguments_are_rendered_literally_not_quoted_twice()
    {
        using var log = new CapturedLog();

        log.Logger().LogInformation("Container {ContainerId} created", "c1");

        log.Lines.ShouldHaveSingleItem().ShouldContain(" msg=\"Container c1 created\" ");
    }

    [Theory]
    [InlineData("plain-word_1.2/x@y^z+w", "plain-word_1.2/x@y^z+w")]
    [InlineData("two words", "\"two words\"")]
    [InlineData("", "\"\"")]
    [InlineData("say \"hi\"\nthen \\ leave\t.", "\"say \\\"hi\\\"\\nthen \\\\ leave\\t.\"")]
    [InlineData("bell\a", "\"bell\\x07\"")]
    public void Values_are_bare_or_quoted_as_logrus_writes_them(string value, string written)
    {
        var line = new System.Text.StringBuilder();
        LogfmtFormatter.AppendValue(line, value);
        line.ToString().ShouldBe(written);
    }

    [Fact]
    public void A_message_with_newlines_and_an_exception_stays_one_line_with_an_error_field()
    {
        using var log = new CapturedLog();
        Exception thrown;
        try
        {
            throw new InvalidOperationException("broken\nbadly");
        }
        catch (InvalidOperationException e)
        {
            thrown = e;
        }

        log.Logger().LogError(thrown, "first\nsecond");

        var line = log.Lines.ShouldHaveSingleItem();
        line.ShouldContain("level=error msg=\"first\\nsecond\"");
        line.ShouldContain(" error=\"System.InvalidOperationException: broken\\nbadly\\n   at ");
    }

    [Fact]
    public void Debug_lines_are_written_only_when_the_daemon_runs_with_debug()
    {
        using var quiet = new CapturedLog(debug: false);
        using var debug = new CapturedLog(debug: true);

        quiet.Logger().LogDebug("detail");
        debug.Logger().LogDebug("detail");

        quiet.Lines.ShouldBeEmpty();
        debug.Lines.ShouldHaveSingleItem().ShouldContain("level=debug msg=detail ");
    }
}
