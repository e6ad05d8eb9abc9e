using System.Net.Sockets;
using Cc.Containerd.Protocol.Tasks;
using Cc.Containerd.Protocol.Types;
using Cc.Shim.Cli;
using Cc.Shim.Configuration;
using Cc.Shim.Lifetime;
using Cc.TestKit;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Shim.Tests;

public sealed class ShimArgumentsTests
{
    [Fact]
    public void The_start_command_line_containerd_builds_parses_into_every_field()
    {
        var parsed = ShimArguments.Parse(["-namespace", "k8s.io", "-address", "/run/containerd/containerd.sock",
            "-publish-binary", "/usr/bin/containerd", "-id", "abc", "-debug", "start"]);

        parsed.Action.ShouldBe(ShimAction.Start);
        parsed.Namespace.ShouldBe("k8s.io");
        parsed.Address.ShouldBe("/run/containerd/containerd.sock");
        parsed.PublishBinary.ShouldBe("/usr/bin/containerd");
        parsed.Id.ShouldBe("abc");
        parsed.Debug.ShouldBeTrue();
    }

    [Fact]
    public void Double_dashes_inline_values_and_any_order_are_accepted()
    {
        var parsed = ShimArguments.Parse(["delete", "--id=t1", "-bundle=/b", "--namespace", "default", "-debug=false"]);

        parsed.Action.ShouldBe(ShimAction.Delete);
        parsed.Id.ShouldBe("t1");
        parsed.Bundle.ShouldBe("/b");
        parsed.Namespace.ShouldBe("default");
        parsed.Debug.ShouldBeFalse();
    }

    [Fact]
    public void No_action_word_means_the_daemon_and_v_and_info_are_their_own_actions()
    {
        ShimArguments.Parse(["-namespace", "n", "-id", "i", "-address", "a"]).Action.ShouldBe(ShimAction.Daemon);
        ShimArguments.Parse(["-v"]).Action.ShouldBe(ShimAction.Version);
        ShimArguments.Parse(["-info"]).Action.ShouldBe(ShimAction.Info);
        ShimArguments.Parse(["-socket", "/tmp/s.sock", "-id", "x"]).Socket.ShouldBe("/tmp/s.sock");
    }

    [Theory]
    [InlineData(new[] { "-bogus" }, "flag provided but not defined: -bogus")]
    [InlineData(new[] { "-id" }, "flag needs an argument: -id")]
    [InlineData(new[] { "restart" }, "unknown action \"restart\"")]
    [InlineData(new[] { "start", "extra" }, "unexpected argument \"extra\"")]
    [InlineData(new[] { "-debug=maybe" }, "invalid boolean value")]
    public void Malformed_command_lines_are_usage_errors_naming_the_problem(string[] args, string message)
    {
        Should.Throw<ShimUsageException>(() => ShimArguments.Parse(args)).Message.ShouldContain(message);
    }
}

public sealed class SocketAddressTests
{
    [Fact]
    public void The_socket_is_the_sha256_of_the_joined_address_namespace_and_group()
    {
        // printf '%s' /run/containerd/containerd.sock/k8s.io/sandbox1 | sha256sum
        SocketAddress.SocketPath("/run/containerd/containerd.sock", "k8s.io", "sandbox1")
            .ShouldBe("/run/containerd/s/203e2a8bcc43faffc0cfc248beea84ee3e46e9902d1260ec12c34ce928a2ad92");
    }

    [Fact]
    public void The_joined_input_is_path_cleaned_like_Go_filepath_Join()
    {
        SocketAddress.SocketPath("/run/containerd//containerd.sock/", "k8s.io", "sandbox1")
            .ShouldBe(SocketAddress.SocketPath("/run/containerd/containerd.sock", "k8s.io", "sandbox1"));
        GoPath.Join("/a/b/../c", ".", "d").ShouldBe("/a/c/d");
        GoPath.Clean("a//b/./..").ShouldBe("a");
    }

    [Fact]
    public void The_printed_address_carries_the_unix_scheme_and_fits_sun_path()
    {
        var path = SocketAddress.SocketPath("/run/containerd/containerd.sock", "k8s.io", new string('x', 76));
        SocketAddress.ToAddress(path).ShouldStartWith("unix:///run/containerd/s/");
        System.Text.Encoding.UTF8.GetByteCount(path).ShouldBeLessThanOrEqualTo(SocketAddress.MaxPathBytes);
    }
}

public sealed class SandboxGroupingTests
{
    [Fact]
    public void App_containers_join_their_sandbox_and_sandboxes_and_plain_tasks_are_their_own_group()
    {
        var app = new Dictionary<string, string>
        {
            ["io.kubernetes.cri.container-type"] = "container",
            ["io.kubernetes.cri.sandbox-id"] = "pod1",
        };
        SandboxGrouping.GroupId("c1", app).ShouldBe("pod1");
        var pause = new Dictionary<string, string>
        {
            ["io.kubernetes.cri.container-type"] = "sandbox",
            ["io.kubernetes.cri.sandbox-id"] = "pod1",
        };
        SandboxGrouping.GroupId("pod1", pause).ShouldBe("pod1");
        SandboxGrouping.GroupId("t1", new Dictionary<string, string>()).ShouldBe("t1");
        SandboxGrouping.GroupId("c2", new Dictionary<string, string>
        {
            ["io.kubernetes.cri-o.ContainerType"] = "container",
            ["io.kubernetes.cri-o.SandboxID"] = "pod2",
        }).ShouldBe("pod2");
    }

    [Theory]
    [InlineData("io.kubernetes.cri.container-type", "sandbox", true)]
    [InlineData("io.kubernetes.cri-o.ContainerType", "sandbox", true)]
    [InlineData("io.kubernetes.docker.type", "podsandbox", true)]
    [InlineData("io.kubernetes.docker.type", "container", false)]
    public void The_sandbox_is_what_its_producer_calls_the_sandbox(string typeKey, string value, bool isSandbox) =>
        SandboxGrouping.IsSandbox(new Dictionary<string, string> { [typeKey] = value }).ShouldBe(isSandbox);
}

public sealed class StartCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("cc-start-").FullName;
    private readonly List<Socket> _listeners = [];

    public void Dispose()
    {
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }
        Directory.Delete(_root, recursive: true);
    }

    private string Bundle(string id, string annotations = "{}") => Fakes.ShimHarness.NewBundle(_root, id, annotations);

    private StartResult Start(string id, string bundle, List<string>? spawned = null)
    {
        var command = new StartCommand(Path.Combine(_root, "s"), (args, listener) =>
        {
            spawned?.Add(args.Id);
            _listeners.Add(listener);
            return 4242;
        });
        var result = command.Run(new ShimArguments { Namespace = "k8s.io", Address = "/run/containerd/containerd.sock", Id = id }, bundle);
        if (result.Listener is { } l)
        {
            _listeners.Add(l);
        }
        return result;
    }

    [Fact]
    public void Start_listens_before_returning_and_writes_the_same_address_into_the_bundle()
    {
        var bundle = Bundle("t1");
        var spawned = new List<string>();

        var result = Start("t1", bundle, spawned);

        result.Joined.ShouldBeFalse();
        result.DaemonPid.ShouldBe(4242);
        spawned.ShouldBe(["t1"]);
        result.Address.ShouldBe("unix://" + SocketAddress.SocketPath("/run/containerd/containerd.sock", "k8s.io", "t1", Path.Combine(_root, "s")));
        File.ReadAllText(Path.Combine(bundle, "address")).ShouldBe(result.Address);
        Directory.GetFiles(bundle, ".address.tmp").ShouldBeEmpty();
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        probe.Connect(new UnixDomainSocketEndPoint(SocketAddress.PathOf(result.Address)));
        var mode = File.GetUnixFileMode(SocketAddress.PathOf(result.Address));
        mode.ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Fact]
    public void A_second_container_of_the_pod_joins_the_running_daemon_and_gets_its_own_address_file()
    {
        var spawned = new List<string>();
        var first = Start("pod1", Bundle("pod1", """{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-id":"pod1"}"""), spawned);
        var appBundle = Bundle("app1", """{"io.kubernetes.cri.container-type":"container","io.kubernetes.cri.sandbox-id":"pod1"}""");

        var second = Start("app1", appBundle, spawned);

        second.Joined.ShouldBeTrue();
        second.Address.ShouldBe(first.Address);
        spawned.ShouldBe(["pod1"]);
        File.ReadAllText(Path.Combine(appBundle, "address")).ShouldBe(first.Address);
    }

    [Fact]
    public void A_stale_socket_file_that_accepts_nothing_is_replaced_by_a_new_daemon()
    {
        var path = SocketAddress.SocketPath("/run/containerd/containerd.sock", "k8s.io", "t2", Path.Combine(_root, "s"));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // A socket file nobody is bound to, as a crashed daemon leaves it: bind elsewhere, move the file into place,
        // then close the socket (disposing unlinks only the path it bound, which is gone). Leaking the fd instead
        // (SetHandleAsInvalid) makes .NET 10.0.12's Dispose spin forever trying to unblock it.
        var bound = path + ".bound";
        using (var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            dead.Bind(new UnixDomainSocketEndPoint(bound));
            File.Move(bound, path);
        }
        File.Exists(path).ShouldBeTrue();
        var spawned = new List<string>();

        var result = Start("t2", Bundle("t2"), spawned);

        result.Joined.ShouldBeFalse();
        spawned.ShouldBe(["t2"]);
    }
}

public sealed class DaemonSpawnerTests
{
    [Fact]
    public async Task The_daemon_gets_dev_null_stdio_the_listener_as_fd_3_the_host_mount_namespace_as_fd_4_a_mount_namespace_and_a_process_group_of_its_own()
    {
        var root = Directory.CreateTempSubdirectory("cc-spawn-").FullName;
        try
        {
            var socketPath = Path.Combine(root, "l.sock");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(socketPath));
            listener.Listen(1);
            var report = Path.Combine(root, "report");
            // The shell reports on its own fds ($$) from command substitutions, which leave the shell's fds alone
            // (dash applies a command's redirections in the shell itself, so a plain redirect would show up here).
            var script = "r=\"$(readlink /proc/$$/fd/0)\n$(readlink /proc/$$/fd/1)\n$(readlink /proc/$$/fd/2)\n" +
                         "$(readlink /proc/$$/fd/3)\n$(ps -o pgid= -p $$)\n$(readlink /proc/$$/fd/4)\n$(readlink /proc/$$/ns/mnt)\n" +
                         "$(awk '$5 == \"/\" { print $7 }' /proc/$$/mountinfo)\"; " +
                         $"printf '%b\\n' \"$r\" > {report}.tmp; mv {report}.tmp {report}";

            var pid = DaemonSpawner.Spawn("/bin/sh", ["-c", script], listener);

            pid.ShouldBeGreaterThan(0);
            await Bounded.UntilAsync(() => File.Exists(report), "the spawned shell wrote its report");
            var lines = File.ReadAllLines(report);
            var all = string.Join(" | ", lines);
            lines[0].ShouldBe("/dev/null", all);
            lines[1].ShouldBe("/dev/null", all);
            lines[2].ShouldBe("/dev/null", all);
            lines[3].ShouldStartWith("socket:[");
            int.Parse(lines[4].Trim()).ShouldBe(pid, "the daemon leads a new process group");
            var ours = new FileInfo("/proc/self/ns/mnt").LinkTarget;
            lines[5].ShouldBe(ours, "fd 4 is the mount namespace start ran in (the host's)");
            lines[6].ShouldStartWith("mnt:[");
            lines[6].ShouldNotBe(ours, "the daemon's mounts are made in a mount namespace of its own");
            lines[7].ShouldNotStartWith("shared:", customMessage: "the daemon's root receives the host's mounts at most (a slave), never sends its own");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task The_daemon_holds_exactly_stdio_the_listener_and_the_host_mount_namespace()
    {
        var root = Directory.CreateTempSubdirectory("cc-spawn-").FullName;
        try
        {
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(Path.Combine(root, "l.sock")));
            listener.Listen(1);

            var pid = DaemonSpawner.Spawn("/bin/sleep", ["30"], listener);
            try
            {
                await Procfs.UntilSleepingAsync(pid);
                Procfs.Fds(pid).ShouldBe([0, 1, 2, 3, 4]);
            }
            finally
            {
                Cc.Hypervisor.Native.LibC.kill(pid, 9);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}

public sealed class DeleteCommandTests
{
    [Fact]
    public void Delete_prints_only_a_DeleteResponse_with_137_even_with_nothing_left_to_clean()
    {
        var root = Directory.CreateTempSubdirectory("cc-delete-").FullName;
        try
        {
            var configuration = new ShimConfiguration { Runtime = { RunDir = Path.Combine(root, "run") } };
            var time = new FixedTime(DateTimeOffset.FromUnixTimeSeconds(1_700_000_123));
            var warnings = new StringWriter();

            var bytes = DeleteCommand.Run(new ShimArguments { Namespace = "k8s.io", Id = "gone" }, root, configuration, time, warnings);

            var response = DeleteResponse.Parser.ParseFrom(bytes);
            response.ExitStatus.ShouldBe(137u);
            response.ExitedAt.Seconds.ShouldBe(1_700_000_123);
            response.ToByteArray().ShouldBe(bytes, "stdout is exactly one DeleteResponse");
            warnings.ToString().ShouldBeEmpty();
            // Idempotent: a second run answers the same.
            DeleteCommand.Run(new ShimArguments { Namespace = "k8s.io", Id = "gone" }, root, configuration, time, warnings)
                .ShouldBe(bytes);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Delete_of_a_dead_sandbox_removes_its_run_directory()
    {
        var root = Directory.CreateTempSubdirectory("cc-delete-").FullName;
        try
        {
            var runDir = Path.Combine(root, "run", "k8s.io", "sb1");
            Directory.CreateDirectory(Path.Combine(runDir, "shared", "containers", "sb1", "rootfs"));
            File.WriteAllText(Path.Combine(runDir, "vmm.pid"), "999999");
            var configuration = new ShimConfiguration { Runtime = { RunDir = Path.Combine(root, "run") } };

            DeleteCommand.Run(new ShimArguments { Namespace = "k8s.io", Id = "sb1" }, root, configuration, TimeProvider.System,
                new StringWriter());

            Directory.Exists(runDir).ShouldBeFalse();
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

public sealed class InfoCommandTests
{
    [Fact]
    public void Info_answers_a_RuntimeInfo_naming_our_runtime_and_echoing_the_options()
    {
        var options = new Any { TypeUrl = "runtimeoptions.v1.Options", Value = ByteString.CopyFromUtf8("x") };

        var info = RuntimeInfo.Parser.ParseFrom(InfoCommand.Run(options.ToByteArray()));

        info.Name.ShouldBe("io.containerd.cc.v2");
        info.Version.Version.ShouldBe(ShimVersion.Version);
        info.Options.ShouldBe(options);
        RuntimeInfo.Parser.ParseFrom(InfoCommand.Run([])).Options.ShouldBeNull();
    }
}

/// <summary>What <c>start</c> prints for each <c>runtime.bootstrap_version</c> (protocol.md §2.4.3).</summary>
public sealed class StartOutputTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("cc-start-out-").FullName;
    private readonly List<Socket> _listeners = [];
    private readonly List<string> _spawned = [];
    // The argv each spawned daemon would get (StartCommand.DaemonArguments of what start handed the spawner).
    private readonly List<IReadOnlyList<string>> _daemonArgv = [];

    public void Dispose()
    {
        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }
        Directory.Delete(_root, recursive: true);
    }

    private (int Code, string Stdout, string Stderr) Start(string id, string? configuration, byte[]? stdin = null, bool containerdDebug = false)
    {
        var config = Path.Combine(_root, id + ".toml");
        if (configuration is not null)
        {
            File.WriteAllText(config, configuration);
        }
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = ShimEntry.Start(new ShimArguments { Namespace = "default", Address = "/run/containerd/containerd.sock", Id = id, Debug = containerdDebug },
            new MemoryStream(stdin ?? []), stdout, stderr,
            (args, listener) =>
            {
                _spawned.Add(args.Id);
                _daemonArgv.Add(StartCommand.DaemonArguments(args));
                _listeners.Add(listener);
                return 4242;
            },
            Path.Combine(_root, "s"), Fakes.ShimHarness.NewBundle(_root, id), [config]);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string AddressOf(string id) =>
        "unix://" + SocketAddress.SocketPath("/run/containerd/containerd.sock", "default", id, Path.Combine(_root, "s"));

    [Fact]
    public void By_default_start_prints_the_plain_address_without_a_newline()
    {
        var (code, stdout, stderr) = Start("plain", configuration: null);

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        stdout.ShouldBe(AddressOf("plain"));
        stderr.ShouldBeEmpty();
    }

    [Fact]
    public void Bootstrap_version_2_prints_the_plain_address()
    {
        var (code, stdout, stderr) = Start("v2", "[runtime]\nbootstrap_version = 2\n");

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        stdout.ShouldBe(AddressOf("v2"));
    }

    [Fact]
    public void Bootstrap_version_3_prints_the_json_of_containerd_2_without_a_newline()
    {
        var (code, stdout, stderr) = Start("v3", "[runtime]\nbootstrap_version = 3\n");

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        stdout.ShouldBe($$"""{"version":3,"address":"{{AddressOf("v3")}}","protocol":"ttrpc"}""");
        stderr.ShouldBeEmpty();
    }

    [Fact]
    public void The_config_path_of_the_runtime_options_on_stdin_chooses_the_configuration()
    {
        var named = Path.Combine(_root, "named.toml");
        File.WriteAllText(named, "[runtime]\nbootstrap_version = 3\n");
        var options = Any.Pack(new Cc.Containerd.Protocol.RuntimeOptions.Options { ConfigPath = named });

        var (code, stdout, stderr) = Start("opts", configuration: null, options.ToByteArray());

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        stdout.ShouldStartWith("""{"version":3,""");
    }

    [Fact]
    public void Containerd_2_3_bootstrap_params_on_stdin_carry_the_runtime_options_in_an_extension()
    {
        var named = Path.Combine(_root, "named.toml");
        File.WriteAllText(named, "[runtime]\nbootstrap_version = 3\n");
        var bootstrap = new Cc.Containerd.Protocol.Bootstrap.BootstrapParams
        {
            InstanceId = "boot",
            Namespace = "default",
            ContainerdVersion = "2.3.4",
            Extensions =
            {
                new Cc.Containerd.Protocol.Bootstrap.Extension { Value = new Any { TypeUrl = "containerd.io/cri.v1.PodSandboxConfig" } },
                new Cc.Containerd.Protocol.Bootstrap.Extension
                {
                    Value = new Any
                    {
                        TypeUrl = "runtimeoptions.v1.Options",
                        Value = new Cc.Containerd.Protocol.RuntimeOptions.Options { ConfigPath = named }.ToByteString(),
                    },
                },
            },
        };

        var (code, stdout, stderr) = Start("boot", configuration: null, bootstrap.ToByteArray());

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        stdout.ShouldBe($$"""{"version":3,"address":"{{AddressOf("boot")}}","protocol":"ttrpc"}""");
    }

    [Fact]
    public void Bootstrap_params_name_the_socket_directory_the_shim_binds_in()
    {
        var socketDir = Path.Combine(_root, "bootstrap-sockets");
        var bootstrap = new Cc.Containerd.Protocol.Bootstrap.BootstrapParams
        {
            InstanceId = "sockdir",
            Namespace = "default",
            SocketDir = socketDir,
        };

        var (code, stdout, stderr) = Start("sockdir", configuration: null, bootstrap.ToByteArray());

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        stdout.ShouldBe("unix://" + SocketAddress.SocketPath("/run/containerd/containerd.sock", "default", "sockdir", socketDir));
    }

    [Fact]
    public void Bytes_that_decode_as_bootstrap_params_of_another_id_are_read_as_the_old_options_any()
    {
        // The old Any decodes as BootstrapParams too (type_url -> instance_id): only the -id/-namespace match decides.
        var named = Path.Combine(_root, "named-any.toml");
        File.WriteAllText(named, "[runtime]\nbootstrap_version = 3\n");
        var options = new Any
        {
            TypeUrl = "runtimeoptions.v1.Options",
            Value = new Cc.Containerd.Protocol.RuntimeOptions.Options { ConfigPath = named }.ToByteString(),
        };

        var (code, stdout, stderr) = Start("anyid", configuration: null, options.ToByteArray());

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        stdout.ShouldStartWith("""{"version":3,""");
    }

    [Fact]
    public void Runtime_debug_in_the_config_path_of_the_runtime_options_spawns_the_daemon_with_debug()
    {
        var named = Path.Combine(_root, "debug.toml");
        File.WriteAllText(named, "[runtime]\ndebug = true\n");
        var options = Any.Pack(new Cc.Containerd.Protocol.RuntimeOptions.Options { ConfigPath = named });

        var (code, _, stderr) = Start("dbg", configuration: null, options.ToByteArray());

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        _daemonArgv.ShouldHaveSingleItem().ShouldContain("-debug");
    }

    [Fact]
    public void Runtime_debug_in_the_config_body_spawns_the_daemon_with_debug()
    {
        // containerd 1.7+ sends the CRI handler's options table itself when it names no ConfigPath.
        var options = Any.Pack(new Cc.Containerd.Protocol.RuntimeOptions.Options { ConfigBody = Google.Protobuf.ByteString.CopyFromUtf8("[runtime]\ndebug = true\n") });

        var (code, _, stderr) = Start("dbgbody", configuration: null, options.ToByteArray());

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        _daemonArgv.ShouldHaveSingleItem().ShouldContain("-debug");
    }

    [Fact]
    public void Without_runtime_debug_the_daemon_is_spawned_without_debug_even_when_the_system_file_says_true()
    {
        // The pod's own configuration decides: the fallback file (here: the system file) is not read when options name one.
        File.WriteAllText(Path.Combine(_root, "quiet.toml"), "[runtime]\ndebug = true\n");
        var named = Path.Combine(_root, "named-quiet.toml");
        File.WriteAllText(named, "[runtime]\nrun_dir = \"/run/cc-test\"\n");
        var options = Any.Pack(new Cc.Containerd.Protocol.RuntimeOptions.Options { ConfigPath = named });

        var (code, _, stderr) = Start("quiet", configuration: null, options.ToByteArray());

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        _daemonArgv.ShouldHaveSingleItem().ShouldNotContain("-debug");
    }

    [Fact]
    public void Runtime_debug_in_the_system_file_spawns_the_daemon_with_debug_when_the_options_name_no_configuration()
    {
        var (code, _, stderr) = Start("sysdbg", "[runtime]\ndebug = true\n");

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        _daemonArgv.ShouldHaveSingleItem().ShouldContain("-debug");
    }

    [Fact]
    public void Containerds_debug_flag_reaches_the_daemon_whatever_runtime_debug_says()
    {
        var (code, _, stderr) = Start("ctrdbg", "[runtime]\ndebug = false\n", containerdDebug: true);

        code.ShouldBe(ShimEntry.ExitOk, stderr);
        _daemonArgv.ShouldHaveSingleItem().ShouldContain("-debug");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Another_bootstrap_version_is_a_configuration_error_and_no_daemon_is_spawned(int version)
    {
        var (code, stdout, stderr) = Start("bad", $"[runtime]\nbootstrap_version = {version}\n");

        code.ShouldBe(ShimEntry.ExitFailure);
        stdout.ShouldBeEmpty();
        stderr.ShouldContain($"runtime.bootstrap_version = {version} is not supported");
        _spawned.ShouldBeEmpty();
    }
}
