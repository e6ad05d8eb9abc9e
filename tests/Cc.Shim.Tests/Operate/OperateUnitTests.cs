using Cc.Hypervisor;
using Cc.Shim.Configuration;
using Cc.Shim.Operate;

namespace Cc.Shim.Tests.Operate;

/// <summary>The pieces of `check` and `env` that need no root and no QEMU: the cgroup layout, the KVM probe on a
/// device that opens but is no KVM, and where each configuration value comes from.</summary>
public sealed class OperateUnitTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cc-operate-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("35 24 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw", "v2 (unified)")]
    [InlineData("35 24 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory", "v1")]
    [InlineData("35 24 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n36 24 0:31 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw", "hybrid (v1 controllers, v2 mounted too)")]
    public void The_cgroup_layout_is_read_from_the_mount_table(string mountinfo, string layout)
    {
        var fact = HostChecks.Cgroups(mountinfo);

        fact.Verdict.ShouldBe(FactVerdict.Ok);
        fact.Detail.ShouldBe(layout);
    }

    [Fact]
    public void No_cgroup_filesystem_fails()
    {
        HostChecks.Cgroups("22 1 0:5 / /proc rw - proc proc rw").Verdict.ShouldBe(FactVerdict.Failed);
    }

    [Fact]
    public void A_device_that_opens_but_is_no_kvm_is_unusable_with_the_reason()
    {
        var probe = KvmProbe.Probe("/dev/null", TimeSpan.FromSeconds(5));

        probe.Usable.ShouldBeFalse();
        probe.Detail.ShouldContain("/dev/null is not a KVM device");
    }

    [Fact]
    public void An_unusable_kvm_is_a_warning_under_auto_and_a_failure_under_kvm()
    {
        HostChecks.Kvm("auto", "/dev/null").Verdict.ShouldBe(FactVerdict.Warning);
        HostChecks.Kvm("auto", "/dev/null").Detail.ShouldContain("falling back to TCG");
        HostChecks.Kvm("kvm", "/dev/null").Verdict.ShouldBe(FactVerdict.Failed);
        HostChecks.Kvm("tcg", "/dev/null").Verdict.ShouldBe(FactVerdict.Ok);
    }

    [Fact]
    public void Env_names_the_file_for_keys_it_sets_and_default_for_the_rest()
    {
        var system = Path.Combine(_dir, "system.toml");
        File.WriteAllText(system, "[hypervisor]\nmemory_mib = 256\n\n[runtime]\ndebug = true\n");

        var entries = ConfigurationSources.Resolve(null, [system, Path.Combine(_dir, "absent.toml")]).ToDictionary(e => e.Key);

        entries["hypervisor.memory_mib"].ShouldBe(new ConfigurationSources.Entry("hypervisor.memory_mib", "256", $"file {system}"));
        entries["runtime.debug"].Source.ShouldBe($"file {system}");
        entries["hypervisor.vcpus"].ShouldBe(new ConfigurationSources.Entry("hypervisor.vcpus", "1", "default"));
        entries.Count.ShouldBe(ConfigurationKeys.All.Count);
    }

    [Fact]
    public void Env_with_a_config_path_names_the_runtime_options_except_for_the_keys_the_daemon_reads_from_files()
    {
        var system = Path.Combine(_dir, "system.toml");
        File.WriteAllText(system, "[runtime]\ndebug = true\nshutdown_timeout_seconds = 9\n");
        var options = Path.Combine(_dir, "options.toml");
        File.WriteAllText(options, "[hypervisor]\nkernel = \"/k\"\n[runtime]\ndebug = false\nrun_dir = \"/run/x\"\nshutdown_timeout_seconds = 3\n");

        var entries = ConfigurationSources.Resolve(options, [system]).ToDictionary(e => e.Key);

        entries["hypervisor.kernel"].ShouldBe(new ConfigurationSources.Entry("hypervisor.kernel", "\"/k\"", $"runtime options ConfigPath {options}"));
        entries["runtime.run_dir"].Source.ShouldBe($"runtime options ConfigPath {options}");
        // runtime.debug: start reads it from the runtime options and passes -debug to the daemon.
        entries["runtime.debug"].ShouldBe(new ConfigurationSources.Entry("runtime.debug", "false", $"runtime options ConfigPath {options}"));
        // shutdown_timeout_seconds: the daemon reads it before any runtime options exist.
        entries["runtime.shutdown_timeout_seconds"].ShouldBe(new ConfigurationSources.Entry("runtime.shutdown_timeout_seconds", "9", $"file {system}"));
        entries["hypervisor.memory_mib"].Source.ShouldBe("default");
    }

    [Fact]
    public void Every_configuration_property_has_a_key_in_the_env_table()
    {
        int properties = typeof(HypervisorSection).GetProperties().Length + typeof(AgentSection).GetProperties().Length
            + typeof(RuntimeSection).GetProperties().Length;

        ConfigurationKeys.All.Count.ShouldBe(properties);
    }
}
