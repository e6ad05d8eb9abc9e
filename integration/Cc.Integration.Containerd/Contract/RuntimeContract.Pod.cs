using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

public abstract partial class RuntimeContract
{
    /// <summary>
    /// `ctr run --hostname … --with-ns network:&lt;netns&gt;` (1.7; 1.6's ctr has no --hostname): the container sees the
    /// hostname; for our runtime the named
    /// network namespace is the one the VM was launched for (the shim's launch line names it: the value H4's pod
    /// networking starts from), while the container itself gets a fresh network in the guest, as a non-CRI container.
    /// </summary>
    [Theory]
    [InlineData("1.6")]
    [InlineData("1.7")]
    public async Task A_run_with_a_hostname_and_a_named_network_namespace_sees_the_hostname(string containerd)
    {
        await using var s = await BeginAsync(containerd);
        var id = s.NewId("podns");
        var netns = "cc-it-" + id;
        var add = await ProcessRunner.RunAsync("ip", ["netns", "add", netns], TimeSpan.FromSeconds(30), s.CancellationToken);
        add.ExitCode.ShouldBe(0, add.Describe());
        try
        {
            // ctr 1.6 has no --hostname: there the hostname is the default (ours: the container id).
            var hostname = containerd == "1.6" ? id : "pod-host-1";
            string[] options = containerd == "1.6"
                ? ["--with-ns", $"network:/var/run/netns/{netns}"]
                : ["--hostname", hostname, "--with-ns", $"network:/var/run/netns/{netns}"];
            var result = await s.RunWithAsync(options, id, "sh", "-c", Short("hostname"));

            s.ShouldSucceed(result);
            if (Runtime.Name == RuntimeUnderTest.Cc.Name)
            {
                result.Stdout.ShouldBe(hostname + "\n", s.Because(result));
                s.LogSinceStart().ShouldContain($"hostname {hostname}, network namespace /var/run/netns/{netns}",
                    Case.Sensitive, s.Because(result));
            }
            else if (containerd != "1.6")
            {
                result.Stdout.ShouldBe(hostname + "\n", s.Because(result));
            }
            await s.ShouldLeaveNothingAsync(id);
        }
        finally
        {
            await ProcessRunner.RunAsync("ip", ["netns", "delete", netns], TimeSpan.FromSeconds(30), CancellationToken.None);
        }
    }
}
