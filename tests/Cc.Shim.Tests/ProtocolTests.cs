using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.Events;
using Cc.Shim.Configuration;
using Cc.Shim.Sandbox;
using Cc.Shim.Tasks;
using Cc.TestKit;
using Cc.Ttrpc;
using Google.Protobuf.WellKnownTypes;
using Cc.Containerd.Protocol.RuntimeOptions;

namespace Cc.Shim.Tests;

public sealed class EventForwarderGoldenTests
{
    // protocol.md §1.6: the Forward call a shim makes to containerd for /tasks/exit, byte for byte.
    private const string GoldenForward =
        "000000ba0000000101000a2a636f6e7461696e6572642e73657276696365732e6576656e74732e74747270632e76312e4576656e74731207466f72776172641a570a550a080880e2cfaa06100512066b38732e696f1a0b2f7461736b732f6578697422340a1a636f6e7461696e6572642e6576656e74732e5461736b4578697412160a0263311202633118d2092089012a060880e2cfaa062080e497d0122a240a1a636f6e7461696e6572642d6e616d6573706163652d747472706312066b38732e696f";

    [Fact]
    public async Task Forwarding_TaskExit_writes_exactly_the_golden_frame()
    {
        var (ours, peer) = DuplexPipe.Create();
        await using var client = new TtrpcClient(ours);
        var exit = new TaskExit
        {
            ContainerId = "c1", Id = "c1", Pid = 1234, ExitStatus = 137,
            ExitedAt = new Timestamp { Seconds = 1_700_000_000 },
        };
        var request = new ForwardRequest
        {
            Envelope = new Envelope
            {
                Timestamp = new Timestamp { Seconds = 1_700_000_000, Nanos = 5 },
                Namespace = "k8s.io",
                Topic = EventTopics.For(exit),
                Event = TypeUrls.Pack(exit),
            },
        };

        var call = new EventForwarder(client, "k8s.io").ForwardAsync(request);
        var frame = await peer.ReadExactlyAsync(Hex.Parse(GoldenForward).Length);

        Hex.Format(frame).ShouldBe(GoldenForward);
        call.IsCompleted.ShouldBeFalse("the call waits for containerd's answer");
    }
}

public sealed class TypeUrlsTests
{
    [Fact]
    public void Packing_uses_the_bare_name_that_containerd_expects_not_the_googleapis_prefix()
    {
        var any = TypeUrls.Pack(new TaskOOM { ContainerId = "c" });
        any.TypeUrl.ShouldBe("containerd.events.TaskOOM");
        Any.Pack(new TaskOOM()).TypeUrl.StartsWith("type.googleapis.com/", StringComparison.Ordinal)
            .ShouldBeTrue("the C# default is what this helper exists to avoid");
    }

    [Fact]
    public void Unpacking_accepts_bare_and_prefixed_names_and_rejects_other_types()
    {
        var options = new Options { ConfigPath = "/etc/cc/x.toml" };
        TypeUrls.TryUnpack(TypeUrls.Pack(options), Options.Parser, Options.Descriptor, out Options bare).ShouldBeTrue();
        bare.ConfigPath.ShouldBe("/etc/cc/x.toml");
        TypeUrls.TryUnpack(Any.Pack(options), Options.Parser, Options.Descriptor, out Options _).ShouldBeTrue();
        TypeUrls.TryUnpack(TypeUrls.Pack(new TaskOOM()), Options.Parser, Options.Descriptor, out Options _).ShouldBeFalse();
    }

    [Fact]
    public void Every_task_event_has_its_documented_topic()
    {
        EventTopics.For(new TaskExecAdded()).ShouldBe("/tasks/exec-added");
        EventTopics.For(new TaskExecStarted()).ShouldBe("/tasks/exec-started");
        EventTopics.For(new TaskOOM()).ShouldBe("/tasks/oom");
        EventTopics.For(new TaskCheckpointed()).ShouldBe("/tasks/checkpointed");
        Should.Throw<ArgumentException>(() => EventTopics.For(new Empty()));
    }
}

public sealed class StateMachineAndErrorTests
{
    [Theory]
    [InlineData(ProcessState.Created, ProcessState.Running, true)]
    [InlineData(ProcessState.Created, ProcessState.Deleted, true)]
    [InlineData(ProcessState.Running, ProcessState.Stopped, true)]
    [InlineData(ProcessState.Stopped, ProcessState.Deleted, true)]
    [InlineData(ProcessState.Running, ProcessState.Deleted, false)]
    [InlineData(ProcessState.Stopped, ProcessState.Running, false)]
    [InlineData(ProcessState.Deleted, ProcessState.Running, false)]
    [InlineData(ProcessState.Paused, ProcessState.Deleted, false)]
    public void The_transition_table_allows_only_the_lifecycle_moves(ProcessState from, ProcessState to, bool allowed)
    {
        ProcessStateMachine.Allows(from, to).ShouldBe(allowed);
        if (!allowed)
        {
            Should.Throw<InvalidStateTransitionException>(() => ProcessStateMachine.Check(from, to, "c1"))
                .Message.ShouldStartWith($"invalid state transition: {from} => {to}");
        }
    }

    [Fact]
    public void Domain_errors_map_to_the_status_codes_containerd_acts_on()
    {
        ErrorMapping.CodeOf(new NotFoundException("x")).ShouldBe(StatusCode.NotFound);
        ErrorMapping.CodeOf(new AlreadyExistsException("x")).ShouldBe(StatusCode.AlreadyExists);
        ErrorMapping.CodeOf(new InvalidStateTransitionException("A", "B", "c")).ShouldBe(StatusCode.FailedPrecondition);
        ErrorMapping.CodeOf(new UnsupportedException("x")).ShouldBe(StatusCode.Unimplemented);
        ErrorMapping.CodeOf(new InvalidRequestException("x")).ShouldBe(StatusCode.InvalidArgument);
        ErrorMapping.CodeOf(new SandboxUnavailableException("x")).ShouldBe(StatusCode.Unavailable);
        ErrorMapping.CodeOf(new InvalidOperationException("x")).ShouldBe(StatusCode.Unknown);
        var mapped = ErrorMapping.ToRpcException(new NotFoundException("container c9: container not created: not found"));
        mapped.ShouldBeOfType<TtrpcException>().Message.ShouldBe("container c9: container not created: not found");
    }
}

public sealed class ConfigurationTests
{
    [Fact]
    public void Snake_case_keys_override_defaults_and_unset_keys_keep_them()
    {
        var configuration = ConfigurationLoader.Parse("""
            [hypervisor]
            memory_mib = 256
            kernel_params = "cc.log=debug"
            [runtime]
            run_dir = "/tmp/cc-run"
            """, "test");

        configuration.Hypervisor.MemoryMib.ShouldBe(256);
        configuration.Hypervisor.KernelParams.ShouldBe("cc.log=debug");
        configuration.Hypervisor.Vcpus.ShouldBe(1);
        configuration.Runtime.RunDir.ShouldBe("/tmp/cc-run");
        configuration.Runtime.ShutdownTimeoutSeconds.ShouldBe(5);
    }

    [Fact]
    public void ConfigPath_wins_over_the_fallbacks_and_a_missing_ConfigPath_is_an_error()
    {
        var dir = Directory.CreateTempSubdirectory("cc-config-").FullName;
        try
        {
            var named = Path.Combine(dir, "named.toml");
            var system = Path.Combine(dir, "system.toml");
            File.WriteAllText(named, "[hypervisor]\nvcpus = 2\n");
            File.WriteAllText(system, "[hypervisor]\nvcpus = 3\n");

            ConfigurationLoader.Load(named, default, [system]).Configuration.Hypervisor.Vcpus.ShouldBe(2);
            ConfigurationLoader.Load(null, default, [Path.Combine(dir, "absent.toml"), system]).Configuration.Hypervisor.Vcpus.ShouldBe(3);
            ConfigurationLoader.Load(null, default, [Path.Combine(dir, "absent.toml")]).Source.ShouldBe("built-in defaults");
            Should.Throw<ConfigurationException>(() => ConfigurationLoader.Load(Path.Combine(dir, "nope.toml")))
                .Message.ShouldContain("does not exist");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Runtime_options_give_the_config_path_and_runc_options_are_reported_as_ignored()
    {
        var options = TypeUrls.Pack(new Options { ConfigPath = "/etc/cc/configuration.toml" });
        RuntimeOptionsReader.Read(options).ConfigPath.ShouldBe("/etc/cc/configuration.toml");
        var runc = new Any { TypeUrl = "containerd.runc.v1.Options" };
        RuntimeOptionsReader.Read(runc).IgnoredTypeUrl.ShouldBe("containerd.runc.v1.Options");
        RuntimeOptionsReader.Read(null).ConfigPath.ShouldBeNull();
    }
}
