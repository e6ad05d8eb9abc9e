using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.HarnessTests;

/// <summary>
/// hack/configure-containerd.py merges the CRI handler `cc` into an existing config.toml: real containerd 1.6 and 1.7
/// read the merged file (`containerd config dump`) and show the handler with its options next to everything the file
/// already had; a second run changes nothing; --remove gives back the original bytes; a conflicting handler or a
/// version 1 file is refused and the file is left as it was.
/// </summary>
[Trait("Category", "Containerd")]
public sealed class ConfigureContainerdTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private const string ShimConfig = "/etc/cc/configuration.toml";

    // What a node's config typically holds already: the CRI plugin with its CNI paths and another handler.
    private const string Existing = """
        version = 2
        root = "/var/lib/containerd"

        [plugins]
          [plugins."io.containerd.grpc.v1.cri"]
            sandbox_image = "registry.k8s.io/pause:3.9"
            [plugins."io.containerd.grpc.v1.cri".cni]
              bin_dir = "/usr/lib/cni"
              conf_dir = "/etc/cni/net.d"
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
              runtime_type = "io.containerd.runc.v2"
              [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                SystemdCgroup = true
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("cc-configure-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Config => Path.Combine(_dir, "config.toml");

    private static Task<ProcessResult> Script(params string[] args) =>
        ProcessRunner.RunAsync("python3", [RepoPaths.Hack("configure-containerd.py"), .. args], s_timeout, CancellationToken.None);

    private static string Containerd(string version) =>
        version == "1.6" ? "/usr/bin/containerd" : RepoPaths.Build("trixie/root/usr/bin/containerd");

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task The_merged_config_is_read_by_containerd_with_the_handler_and_everything_it_had(string version)
    {
        await File.WriteAllTextAsync(Config, Existing);

        var merge = await Script("--config", Config, "--config-path", ShimConfig);
        merge.ExitCode.ShouldBe(0, merge.Describe());

        var dump = await ProcessRunner.RunAsync(Containerd(version), ["--config", Config, "config", "dump"], s_timeout,
            CancellationToken.None);
        dump.ExitCode.ShouldBe(0, dump.Describe());
        var cc = Section(dump.Stdout, """[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.cc]""");
        cc.ShouldContain("""runtime_type = "io.containerd.cc.v2" """.TrimEnd());
        cc.ShouldContain("privileged_without_host_devices = true");
        Section(dump.Stdout, """[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.cc.options]""")
            .ShouldContain($"""ConfigPath = "{ShimConfig}" """.TrimEnd());
        Section(dump.Stdout, """[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]""")
            .ShouldContain("SystemdCgroup = true");
        dump.Stdout.ShouldContain("""sandbox_image = "registry.k8s.io/pause:3.9" """.TrimEnd());
    }

    [Fact]
    public async Task A_second_run_changes_nothing_and_remove_gives_back_the_original_bytes()
    {
        await File.WriteAllTextAsync(Config, Existing);
        (await Script("--config", Config, "--config-path", ShimConfig)).ExitCode.ShouldBe(0);
        var merged = await File.ReadAllTextAsync(Config);

        (await Script("--config", Config, "--config-path", ShimConfig)).ExitCode.ShouldBe(0);
        (await File.ReadAllTextAsync(Config)).ShouldBe(merged);

        var remove = await Script("--config", Config, "--remove");
        remove.ExitCode.ShouldBe(0, remove.Describe());
        (await File.ReadAllTextAsync(Config)).ShouldBe(Existing);
    }

    [Fact]
    public async Task A_handler_of_that_name_defined_by_hand_is_refused_and_the_file_is_left_as_it_was()
    {
        var handMade = Existing + "\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.cc]\n  runtime_type = \"x\"\n";
        await File.WriteAllTextAsync(Config, handMade);

        var result = await Script("--config", Config);

        result.ExitCode.ShouldNotBe(0);
        result.Stderr.ShouldContain("handler cc is already defined");
        (await File.ReadAllTextAsync(Config)).ShouldBe(handMade);
    }

    [Fact]
    public async Task A_version_1_file_is_refused_with_the_reason()
    {
        await File.WriteAllTextAsync(Config, "root = \"/var/lib/containerd\"\n");

        var result = await Script("--config", Config);

        result.ExitCode.ShouldNotBe(0);
        result.Stderr.ShouldContain("version 1 format");
        (await File.ReadAllTextAsync(Config)).ShouldBe("root = \"/var/lib/containerd\"\n");
    }

    [Fact]
    public async Task Version_3_puts_the_handler_under_the_2x_cri_runtime_plugin_with_the_podsandbox_sandboxer()
    {
        var result = await Script("--config", Config, "--version", "3", "--config-path", ShimConfig);

        result.ExitCode.ShouldBe(0, result.Describe());
        var text = await File.ReadAllTextAsync(Config);
        text.ShouldStartWith("version = 3\n");
        var cc = Section(text, """[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.cc]""");
        cc.ShouldContain("""runtime_type = "io.containerd.cc.v2" """.TrimEnd());
        cc.ShouldContain("""sandboxer = "podsandbox" """.TrimEnd());
    }

    [Fact]
    public async Task The_runtime_class_names_the_handler_and_a_pod_overhead()
    {
        var result = await Script("--runtime-class", "--handler", "cc");

        result.ExitCode.ShouldBe(0, result.Describe());
        result.Stdout.ShouldContain("kind: RuntimeClass");
        result.Stdout.ShouldContain("handler: cc");
        result.Stdout.ShouldContain("podFixed:");
    }

    /// <summary>The lines of the TOML table <paramref name="header"/> up to the next table header.</summary>
    private static string Section(string toml, string header)
    {
        var lines = toml.Split('\n').Select(l => l.Trim()).ToList();
        var start = lines.IndexOf(header);
        start.ShouldBeGreaterThanOrEqualTo(0, $"no table {header} in:\n{toml}");
        return string.Join('\n', lines.Skip(start + 1).TakeWhile(l => !l.StartsWith('[')));
    }
}
