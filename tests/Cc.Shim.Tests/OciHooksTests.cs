using System.Text;
using System.Text.Json;
using Cc.Shim.Sandbox;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Tests;

public sealed class OciHooksTests
{
    // The shape dockerd 26.1 writes (daemon/oci_linux.go withLibnetwork): its own binary re-executed as libnetwork-setkey.
    private const string DockerSpec = """
        {"ociVersion":"1.0.2-dev","process":{"args":["sh"]},
         "annotations":{"org.opencontainers.image.title":"busybox"},
         "hooks":{"prestart":[{"path":"/proc/4242/exe","args":["libnetwork-setkey","-exec-root=/var/run/docker","c1","0123456789ab"]}],
                  "createRuntime":[{"path":"/usr/bin/true","env":["A=1"],"timeout":5}],
                  "poststart":[{"path":"/bin/p"}],"poststop":[{"path":"/bin/q","args":["q"]}]},
         "linux":{"namespaces":[{"type":"pid"},{"type":"network"},{"type":"mount"}]}}
        """;

    private static readonly byte[] State = OciState.Render("c1", "creating", 4242, "/b", new Dictionary<string, string>());

    [Fact]
    public void Every_host_phase_is_read_with_path_args_env_and_timeout()
    {
        var hooks = OciHooks.Parse(Encoding.UTF8.GetBytes(DockerSpec));

        hooks.Prestart.Single().Path.ShouldBe("/proc/4242/exe");
        hooks.Prestart.Single().Args.ShouldBe(["libnetwork-setkey", "-exec-root=/var/run/docker", "c1", "0123456789ab"]);
        hooks.Prestart.Single().Timeout.ShouldBeNull();
        hooks.CreateRuntime.Single().ShouldBe(hooks.CreateRuntime.Single() with { Path = "/usr/bin/true", Timeout = 5 });
        hooks.CreateRuntime.Single().Env.ShouldBe(["A=1"]);
        hooks.Poststart.Single().Path.ShouldBe("/bin/p");
        hooks.Poststop.Single().Args.ShouldBe(["q"]);
        hooks.HasCreateHooks.ShouldBeTrue();
    }

    [Fact]
    public void A_spec_without_hooks_has_none()
    {
        var hooks = OciHooks.Parse("""{"process":{"args":["sh"]}}"""u8);

        hooks.ShouldBe(OciHooks.None);
        hooks.HasCreateHooks.ShouldBeFalse();
    }

    [Theory]
    [InlineData("""{"hooks":{"prestart":[{"path":"relative"}]}}""", "hooks.prestart[0]: path must be an absolute path")]
    [InlineData("""{"hooks":{"poststop":[{"path":"/x","timeout":0}]}}""", "hooks.poststop[0]: timeout must be a positive number of seconds")]
    [InlineData("""{"hooks":{"createRuntime":[{"path":"/x","args":[1]}]}}""", "hooks.createRuntime[0].args must be an array of strings")]
    public void A_malformed_hook_is_refused_naming_it(string json, string message)
    {
        Should.Throw<InvalidRequestException>(() => OciHooks.Parse(Encoding.UTF8.GetBytes(json))).Message.ShouldBe(message);
    }

    [Fact]
    public void The_state_carries_id_status_pid_bundle_and_annotations_and_no_pid_once_stopped()
    {
        var running = JsonDocument.Parse(OciState.Render("c1", "creating", 77, "/run/b", new Dictionary<string, string> { ["k"] = "v" })).RootElement;
        running.GetProperty("ociVersion").GetString().ShouldBe("1.0.2");
        running.GetProperty("id").GetString().ShouldBe("c1");
        running.GetProperty("status").GetString().ShouldBe("creating");
        running.GetProperty("pid").GetInt32().ShouldBe(77);
        running.GetProperty("bundle").GetString().ShouldBe("/run/b");
        running.GetProperty("annotations").GetProperty("k").GetString().ShouldBe("v");

        var stopped = JsonDocument.Parse(OciState.Render("c1", "stopped", 0, "/run/b", new Dictionary<string, string>())).RootElement;
        stopped.TryGetProperty("pid", out _).ShouldBeFalse();
    }

    [Fact]
    public void The_network_namespace_entry_gets_the_path_and_nothing_else_changes()
    {
        var rewritten = PodSandbox.WithNetworkPath(Encoding.UTF8.GetBytes(DockerSpec), "/run/cc/x/netns");

        var root = JsonDocument.Parse(rewritten).RootElement;
        var namespaces = root.GetProperty("linux").GetProperty("namespaces").EnumerateArray().ToList();
        namespaces.Single(n => n.GetProperty("type").GetString() == "network").GetProperty("path").GetString().ShouldBe("/run/cc/x/netns");
        namespaces.Where(n => n.GetProperty("type").GetString() != "network").Count(n => n.TryGetProperty("path", out _)).ShouldBe(0);
        root.GetProperty("hooks").GetProperty("prestart").GetArrayLength().ShouldBe(1);
        root.GetProperty("ociVersion").GetString().ShouldBe("1.0.2-dev");
    }

    [Fact]
    public async Task A_hook_runs_with_its_argv0_its_env_alone_and_the_state_on_stdin()
    {
        using var dir = new TempDir();
        var output = Path.Combine(dir.Path, "out");
        // argv[0] as the spec gives it (dockerd's re-exec dispatches on it), the hook's env only, the state verbatim.
        var hook = new OciHook("/bin/sh",
            ["my-argv0", "-c", "echo \"$(tr '\\0' '\\n' < /proc/$$/cmdline | head -n 1)|$X|$(env | grep -c .)\" > \"$OUT\"; cat >> \"$OUT\""],
            ["X=42", $"OUT={output}"], 10);

        await HookRunner.RunAsync("test hook", hook, State, CancellationToken.None);

        var lines = await File.ReadAllLinesAsync(output);
        lines[0].ShouldBe("my-argv0|42|" + ExpectedEnvCount());
        lines[1].ShouldBe(Encoding.UTF8.GetString(State));
    }

    // X and OUT, and PWD, which dash (Debian's sh) exports itself.
    private static string ExpectedEnvCount() => "3";

    [Fact]
    public async Task A_failing_hook_fails_with_its_status_and_stderr()
    {
        var hook = new OciHook("/bin/sh", ["sh", "-c", "echo no network for you >&2; exit 3"], [], null);

        var e = await Should.ThrowAsync<HookFailedException>(() => HookRunner.RunAsync("prestart hook #0 (/bin/sh)", hook, State, CancellationToken.None));

        e.Message.ShouldBe("prestart hook #0 (/bin/sh) exited with status 3: no network for you");
    }

    [Fact]
    public async Task A_hook_that_overruns_its_timeout_is_killed_and_fails()
    {
        var hook = new OciHook("/bin/sh", ["sh", "-c", "exec sleep 600"], [], 1);

        var e = await Should.ThrowAsync<HookFailedException>(() => HookRunner.RunAsync("prestart hook #0", hook, State, CancellationToken.None));

        e.Message.ShouldBe("prestart hook #0 did not finish within its timeout of 1 s");
    }

    [Fact]
    public async Task A_hook_that_cannot_start_fails_naming_it()
    {
        var hook = new OciHook("/nonexistent/hook", [], [], null);

        var e = await Should.ThrowAsync<HookFailedException>(() => HookRunner.RunAsync("prestart hook #0", hook, State, CancellationToken.None));

        e.Message.ShouldStartWith("prestart hook #0 could not start:");
    }

    [Fact]
    public async Task Poststart_failures_are_warnings_and_the_later_hooks_still_run()
    {
        using var dir = new TempDir();
        var marker = Path.Combine(dir.Path, "ran");
        OciHook[] hooks = [new("/bin/false", [], [], null), new("/bin/sh", ["sh", "-c", $"touch {marker}"], [], null)];

        await HookRunner.RunPhaseWarningOnlyAsync("poststart", hooks, State, NullLogger.Instance, CancellationToken.None);

        File.Exists(marker).ShouldBeTrue();
    }

    [Fact]
    public async Task A_failing_prestart_hook_stops_its_phase()
    {
        using var dir = new TempDir();
        var marker = Path.Combine(dir.Path, "ran");
        OciHook[] hooks = [new("/bin/false", [], [], null), new("/bin/sh", ["sh", "-c", $"touch {marker}"], [], null)];

        await Should.ThrowAsync<HookFailedException>(() =>
            HookRunner.RunPhaseAsync("prestart", hooks, State, NullLogger.Instance, CancellationToken.None));

        File.Exists(marker).ShouldBeFalse();
    }

    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("cc-hooks-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
