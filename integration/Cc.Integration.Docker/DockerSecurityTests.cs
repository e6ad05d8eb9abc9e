using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// The confinement Docker writes into the spec is applied by crun inside the guest, as runc applies it on the host:
/// the seccomp profile (Docker's default unless `seccomp=unconfined`, or a custom one), the masked and read-only paths
/// (lifted by `systempaths=unconfined`), `no-new-privileges`. Each script starts with `uname -r`, the guest kernel under cc; runc is the
/// reference in the same test.
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerSecurityTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    // /proc/self/status: 0 = no seccomp, 2 = a filter is installed.
    private const string SeccompMode = "awk '$1 == \"Seccomp:\" { print \"seccomp=\" $2 }' /proc/self/status";

    /// <summary>
    /// A profile that allows everything but mkdir and mkdirat, which fail with EPERM (errnoRet 1): busybox's mkdir
    /// reports "Operation not permitted" inside, where the filter is installed (Seccomp: 2).
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task A_custom_seccomp_profile_makes_mkdir_fail_with_eperm(string runtime)
    {
        var profile = Path.Combine(Docker.Directory, $"deny-mkdir-{runtime}.json");
        await File.WriteAllTextAsync(profile, """
            {
              "defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [ { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 } ]
            }
            """);

        var lines = await InContainerAsync(runtime, ["--security-opt", $"seccomp={profile}"],
            $"{SeccompMode}; mkdir /made 2>&1; echo mkdir=$?");

        lines.ShouldBe(["seccomp=2", "mkdir: can't create directory '/made': Operation not permitted", "mkdir=1"]);
    }

    /// <summary>
    /// Docker's default profile is on by default: a filter is installed, and creating a user namespace (unshare -U),
    /// which the profile allows only with CAP_SYS_ADMIN, fails with EPERM. `seccomp=unconfined` installs none and the
    /// same unshare succeeds (the guest kernel, like the host's, lets root without CAP_SYS_ADMIN create one).
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Dockers_default_seccomp_profile_blocks_unshare_and_unconfined_lifts_it(string runtime)
    {
        const string Script = SeccompMode + "; unshare -U true 2>&1; echo unshare=$?";

        var confined = await InContainerAsync(runtime, [], Script);
        var unconfined = await InContainerAsync(runtime, ["--security-opt", "seccomp=unconfined"], Script);

        confined.ShouldBe(["seccomp=2", "unshare: unshare(0x10000000): Operation not permitted", "unshare=1"]);
        unconfined.ShouldBe(["seccomp=0", "unshare=0"]);
    }

    // What the default masks and makes read-only, seen from inside: the file /proc/timer_list is /dev/null (nothing to
    // read), the directory /sys/firmware an empty read-only tmpfs, /proc/sys a read-only mount (sorted: mount order is
    // the runtime's).
    private const string SystemPaths =
        "{ echo timer_list=$(wc -c < /proc/timer_list); "
        + "awk '$5 == \"/sys/firmware\" || $5 == \"/proc/sys\" { split($6, o, \",\"); print $5 \"=\" o[1] }' /proc/self/mountinfo; } | sort";

    /// <summary>
    /// Docker's default masked paths (/proc/timer_list, /sys/firmware, …) hide what they mask and its read-only paths
    /// (/proc/sys, …) are read-only mounts; `--security-opt systempaths=unconfined` lifts both.
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Default_masked_and_read_only_paths_hide_timer_list_and_make_proc_sys_read_only_until_systempaths_unconfined(
        string runtime)
    {
        var confined = await InContainerAsync(runtime, [], SystemPaths);
        var unconfined = await InContainerAsync(runtime, ["--security-opt", "systempaths=unconfined"], SystemPaths);

        confined.ShouldBe(["/proc/sys=ro", "/sys/firmware=ro", "timer_list=0"]);
        unconfined.Count.ShouldBe(1, string.Join('\n', unconfined));
        long.Parse(unconfined[0]["timer_list=".Length..], System.Globalization.CultureInfo.InvariantCulture)
            .ShouldBeGreaterThan(0, "/proc/timer_list is the kernel's, not /dev/null");
    }

    /// <summary>
    /// `--security-opt no-new-privileges` sets the spec's process.noNewPrivileges, which crun turns into
    /// PR_SET_NO_NEW_PRIVS in the guest: the process's NoNewPrivs is 1 with it and 0 without (Docker's default).
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task No_new_privileges_sets_no_new_privs_of_the_process_and_is_off_by_default(string runtime)
    {
        const string NoNewPrivs = "awk '$1 == \"NoNewPrivs:\" { print \"nnp=\" $2 }' /proc/self/status";

        var without = await InContainerAsync(runtime, [], NoNewPrivs);
        var with = await InContainerAsync(runtime, ["--security-opt", "no-new-privileges"], NoNewPrivs);

        without.ShouldBe(["nnp=0"]);
        with.ShouldBe(["nnp=1"]);
    }
}
