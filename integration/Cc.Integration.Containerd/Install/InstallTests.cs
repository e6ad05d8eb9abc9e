using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Install;

/// <summary>
/// hack/install.sh (`make install` / `make uninstall`, and the DaemonSet of deploy/): into a scratch root (DESTDIR)
/// it puts the shim, the guest assets, the default configuration and containerd's CRI entry, prints the RuntimeClass,
/// and its uninstall leaves the root exactly as it was; real containerd 1.6 and 1.7 read the merged config.toml, and a
/// private containerd whose node was set up by the script alone runs a container in a VM with the installed shim and
/// the installed guest.
/// </summary>
[Trait("Category", "Install")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class InstallTests : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_runTimeout = TimeSpan.FromMinutes(4);

    // A node's config.toml before the install: the CRI plugin with its CNI paths and runc, as kubeadm guides write it.
    private const string NodeConfig = """
        version = 2
        root = "/var/lib/containerd"

        [plugins]
          [plugins."io.containerd.grpc.v1.cri"]
            sandbox_image = "registry.k8s.io/pause:3.9"
            [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
              runtime_type = "io.containerd.runc.v2"
              [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                SystemdCgroup = true
        """;

    private readonly ScratchRoot _root = new();

    public void Dispose() => _root.Dispose();

    private Dictionary<string, string> Destdir => new(StringComparer.Ordinal) { ["DESTDIR"] = _root.Path };

    private void PrepareNode()
    {
        _root.Write("/etc/containerd/config.toml", NodeConfig);
        _root.Write("/usr/local/bin/someone-elses-tool", "#!/bin/sh\n");
        _root.Write("/usr/share/doc/other/README", "not ours\n");
    }

    [Fact]
    public async Task Install_writes_the_shim_the_guest_the_defaults_and_the_cri_entry_and_prints_the_runtime_class()
    {
        PrepareNode();

        var install = await ScratchRoot.RunInstallAsync(Destdir);

        install.ExitCode.ShouldBe(0, install.Describe());
        File.ReadAllBytes(_root["/usr/local/bin/containerd-shim-cc-v2"]).ShouldBe(File.ReadAllBytes(RepoPaths.ShimBinary));
        File.GetUnixFileMode(_root["/usr/local/bin/containerd-shim-cc-v2"]).HasFlag(UnixFileMode.OtherExecute).ShouldBeTrue();
        new FileInfo(_root["/usr/share/cc/guest/vmlinux"]).Length.ShouldBe(new FileInfo(RepoPaths.Build("guest/vmlinux")).Length);
        File.ReadAllText(_root["/usr/share/cc/guest/kernel-version"]).ShouldBe(File.ReadAllText(RepoPaths.GuestKernelVersion));
        // Paths inside the files are the node's, never DESTDIR's.
        var defaults = File.ReadAllText(_root["/usr/share/defaults/cc/configuration.toml"]);
        defaults.ShouldContain("""kernel = "/usr/share/cc/guest/vmlinux" """.TrimEnd());
        defaults.ShouldContain("""initrd = "/usr/share/cc/guest/initramfs.cpio" """.TrimEnd());
        defaults.ShouldNotContain(_root.Path);
        var config = File.ReadAllText(_root["/etc/containerd/config.toml"]);
        config.ShouldStartWith(NodeConfig);
        config.ShouldContain("""ConfigPath = "/usr/share/defaults/cc/configuration.toml" """.TrimEnd());
        config.ShouldContain("""runtime_path = "/usr/local/bin/containerd-shim-cc-v2" """.TrimEnd());
        install.Stdout.ShouldContain("kind: RuntimeClass");
        install.Stdout.ShouldContain("handler: cc");
        install.Stderr.ShouldContain("[1/7]");
    }

    [Fact]
    public async Task Install_then_uninstall_leaves_the_root_exactly_as_it_was()
    {
        PrepareNode();
        var before = _root.Snapshot();

        var install = await ScratchRoot.RunInstallAsync(Destdir);
        install.ExitCode.ShouldBe(0, install.Describe());
        // Twice: an upgrade over an install must not confuse the record of what existed before.
        var again = await ScratchRoot.RunInstallAsync(Destdir, "--no-runtime-class");
        again.ExitCode.ShouldBe(0, again.Describe());
        _root.Snapshot().ShouldNotBe(before);
        var uninstall = await ScratchRoot.RunInstallAsync(Destdir, "--uninstall");

        uninstall.ExitCode.ShouldBe(0, uninstall.Describe());
        _root.Snapshot().ShouldBe(before);
    }

    [Fact]
    public async Task Install_and_uninstall_on_an_empty_root_create_the_config_and_remove_every_directory_they_made()
    {
        var install = await ScratchRoot.RunInstallAsync(Destdir);
        install.ExitCode.ShouldBe(0, install.Describe());
        File.ReadAllText(_root["/etc/containerd/config.toml"]).ShouldContain("runtimes.cc]");

        var uninstall = await ScratchRoot.RunInstallAsync(Destdir, "--uninstall");

        uninstall.ExitCode.ShouldBe(0, uninstall.Describe());
        _root.Snapshot().ShouldBeEmpty();
    }

    [Fact]
    public async Task Install_refuses_to_overwrite_a_file_it_did_not_write_and_changes_nothing()
    {
        PrepareNode();
        _root.Write("/usr/share/defaults/cc/configuration.toml", "# the operator's own\n");
        var before = _root.Snapshot();

        var install = await ScratchRoot.RunInstallAsync(Destdir);

        install.ExitCode.ShouldNotBe(0);
        install.Stderr.ShouldContain("/usr/share/defaults/cc/configuration.toml exists and was not installed by this script");
        _root.Snapshot().ShouldBe(before);
    }

    [Fact]
    public async Task A_failed_install_records_what_it_wrote_so_that_uninstall_removes_it()
    {
        PrepareNode();
        // A file where the guest's directory must go: the install fails after the shim is in place.
        _root.Write("/usr/share/cc/guest", "in the way\n");
        var before = _root.Snapshot();

        var install = await ScratchRoot.RunInstallAsync(Destdir);

        install.ExitCode.ShouldNotBe(0, install.Describe());
        install.Stderr.ShouldContain("install failed; what it wrote is listed in");
        File.Exists(_root["/usr/local/bin/containerd-shim-cc-v2"]).ShouldBeTrue();
        var uninstall = await ScratchRoot.RunInstallAsync(Destdir, "--uninstall");
        uninstall.ExitCode.ShouldBe(0, uninstall.Describe());
        _root.Snapshot().ShouldBe(before);
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task The_merged_config_is_read_by_containerd_with_the_cc_handler(string version)
    {
        PrepareNode();
        var install = await ScratchRoot.RunInstallAsync(Destdir);
        install.ExitCode.ShouldBe(0, install.Describe());

        var containerd = version == "1.6" ? "/usr/bin/containerd" : RepoPaths.Build("trixie/root/usr/bin/containerd");
        var dump = await ProcessRunner.RunAsync(containerd, ["--config", _root["/etc/containerd/config.toml"], "config", "dump"],
            s_timeout, CancellationToken.None);

        dump.ExitCode.ShouldBe(0, dump.Describe());
        dump.Stdout.ShouldContain("""[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.cc]""");
        dump.Stdout.ShouldContain("""runtime_type = "io.containerd.cc.v2" """.TrimEnd());
        dump.Stdout.ShouldContain("""ConfigPath = "/usr/share/defaults/cc/configuration.toml" """.TrimEnd());
        dump.Stdout.ShouldContain("SystemdCgroup = true");
    }

    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task A_container_runs_in_a_vm_through_the_installed_shim_guest_and_merged_config(string version)
    {
        // Not DESTDIR here: the node must run what was installed, so the install's own paths point into the scratch
        // root (PREFIX, SHAREDIR) and its containerd entry goes into the private instance's config.toml.
        var images = await TestImages.BuildAsync(CancellationToken.None);
        var bin = _root["/usr/local/bin"];
        var defaults = _root["/usr/share/defaults/cc/configuration.toml"];
        var runDir = Cc.Shim.Configuration.ConfigurationLoader.Load(RepoPaths.ShimConfiguration).Configuration.Runtime.RunDir;
        var configure = $"PREFIX={ShellQuote.Quote(_root["/usr/local"])} SHAREDIR={ShellQuote.Quote(_root["/usr/share"])} "
            + $"CONTAINERD_CONFIG=\"$CC_CONTAINERD_CONFIG\" CC_RUN_DIR={ShellQuote.Quote(runDir)} "
            + $"bash {ShellQuote.Quote(RepoPaths.Hack("install.sh"))} --no-runtime-class";
        await using var containerd = await PrivateContainerd.StartAsync(version,
            ["--stock", "--shim-dir", bin, "--configure", configure], CancellationToken.None);
        File.ReadAllText(Path.Combine(containerd.Directory, "config.toml")).ShouldContain("runtimes.cc.options]");
        var import = await containerd.CtrAsync(s_runTimeout, CancellationToken.None,
            ["images", "import", "--base-name", images.BusyboxBase, images.BusyboxTar]);
        import.ExitCode.ShouldBe(0, import.Describe());

        var id = $"install-{version.Replace('.', '-')}";
        Ledger.Record(containerd.Address, PrivateContainerd.Namespace, id);
        await using var run = containerd.StartCtr(["run", "--rm", "--runtime", "io.containerd.cc.v2",
            "--runtime-config-path", defaults, images.BusyboxImage, id, "sh", "-c", "uname -r; exec sleep 600"]);
        var guestKernel = File.ReadAllText(RepoPaths.GuestKernelVersion).Trim();
        await run.WaitForStdoutAsync(guestKernel, s_runTimeout, CancellationToken.None);

        // The daemon serving it is the installed binary (containerd found it on its PATH in the scratch root).
        ShimExecutables(containerd.Address).ShouldBe([Path.Combine(bin, "containerd-shim-cc-v2")]);
        var kill = await containerd.CtrAsync(s_timeout, CancellationToken.None, ["tasks", "kill", "-s", "SIGKILL", id]);
        kill.ExitCode.ShouldBe(0, kill.Describe());
        (await run.WaitAsync(s_runTimeout, CancellationToken.None)).ExitCode.ShouldBe(137);
    }

    /// <summary>The executables of the processes started with <c>-address &lt;address&gt;</c> (shims of that containerd).</summary>
    private static List<string> ShimExecutables(string address)
    {
        var found = new List<string>();
        foreach (var proc in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            try
            {
                var argv = File.ReadAllText(Path.Combine(proc, "cmdline")).Split('\0');
                var at = Array.IndexOf(argv, "-address");
                if (at >= 0 && at + 1 < argv.Length && argv[at + 1] == address)
                {
                    found.Add(new FileInfo(Path.Combine(proc, "exe")).LinkTarget ?? "");
                }
            }
            catch (IOException)
            {
                // Gone while we looked.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return found.Distinct().ToList();
    }
}
