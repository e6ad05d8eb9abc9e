using Cc.Integration.Containerd.Harness;
using Cc.Integration.Cri.Harness;
using Runtime.V1;
using Xunit.Abstractions;

namespace Cc.Integration.Cri;

/// <summary>
/// Edges cri-tools' critest found, the same for runc and <c>cc</c>: a read-only volume is read-only on its own files
/// but a filesystem mounted below its host source stays writable, and the host can unmount it and remove the source
/// while the pod runs ("non-recursive readonly mounts"); a Linux bridge can be made with CAP_NET_ADMIN ("adding
/// capability"); and a container in a shared pid namespace ends with its init ("PodPID", "HostPID").
/// </summary>
[Collection(CriCollection.Name)]
[Trait("Category", "Cri")]
public sealed class VolumeAndCapabilityTests(CriFixture fixture, ITestOutputHelper output)
{
    public static TheoryData<string, string> Runtimes => PodLifecycleTests.Runtimes;

    [Theory]
    [MemberData(nameof(Runtimes))]
    public async Task A_read_only_volume_spares_its_submounts_which_the_host_can_remove_while_the_pod_runs_and_NET_ADMIN_makes_a_bridge(
        string version, string handler)
    {
        // critest's "non-recursive readonly mounts", step by step: the tmpfs below the volume's source is mounted after
        // the pod started (this host's root mount is private, so it never propagates into a namespace made earlier),
        // and the spec's clean-up unmounts it and removes the source while the pod still runs. That removal failed
        // with EBUSY while the shim's copy of the submount sat on the host's directory in the host's mount namespace.
        var ct = CancellationToken.None;
        var run = await CriRun.BeginAsync(fixture, version, output);
        var containerd = run.Containerd;
        var source = Directory.CreateTempSubdirectory("cc-cri-ro-").FullName;
        var submount = Path.Combine(source, "tmpfs");
        Directory.CreateDirectory(submount);
        var removed = false;
        try
        {
            await using var pod = await CriPod.RunAsync(containerd, handler, $"ro-{handler}", ct);
            var mounted = await ProcessRunner.RunAsync("mount", ["-t", "tmpfs", "cc-cri-ro", submount], TimeSpan.FromSeconds(20), ct);
            mounted.ExitCode.ShouldBe(0, mounted.Describe());
            var id = await pod.CreateContainerAsync("vol", 0, "echo vol-up; while :; do sleep 1; done", ct, configure: c =>
            {
                c.Mounts.Add(new Mount { HostPath = source, ContainerPath = "/mnt", Readonly = true });
                c.Linux.SecurityContext = new LinuxContainerSecurityContext
                {
                    Capabilities = new Capability { AddCapabilities = { "NET_ADMIN" } },
                };
            });
            await pod.StartContainerAsync(id, ct);

            var below = await pod.ExecSyncAsync(id, ct, "touch", "/mnt/tmpfs/file");
            below.ExitCode.ShouldBe(0, $"the submount is writable, as runc leaves it: {below.Stderr.ToStringUtf8()}");
            var top = await pod.ExecSyncAsync(id, ct, "touch", "/mnt/file");
            top.ExitCode.ShouldNotBe(0, "the volume itself is read-only");
            top.Stderr.ToStringUtf8().ShouldContain("Read-only file system");
            File.Exists(Path.Combine(submount, "file")).ShouldBeTrue("the write reached the host's tmpfs");
            File.Exists(Path.Combine(source, "file")).ShouldBeFalse();

            var bridge = await pod.ExecSyncAsync(id, ct, "brctl", "addbr", "cc-test0");
            output.WriteLine($"brctl addbr: exit {bridge.ExitCode} {bridge.Stderr.ToStringUtf8()}");
            bridge.ExitCode.ShouldBe(0, bridge.Stderr.ToStringUtf8());

            // critest's clean-up, with the pod running: no mount of the pod's holds the host's directories.
            var unmounted = await ProcessRunner.RunAsync("umount", ["-l", submount], TimeSpan.FromSeconds(20), ct);
            unmounted.ExitCode.ShouldBe(0, unmounted.Describe());
            Should.NotThrow(() => Directory.Delete(source, recursive: true), "removing the volume's source while the pod runs");
            removed = true;
            (await pod.StatusAsync(id, ct)).State.ShouldBe(ContainerState.ContainerRunning);
            await pod.RemoveAsync(ct);
        }
        catch
        {
            run.WriteLogTail();
            throw;
        }
        finally
        {
            if (!removed)
            {
                await ProcessRunner.RunAsync("umount", ["-l", submount], TimeSpan.FromSeconds(20), CancellationToken.None);
                Directory.Delete(source, recursive: true);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Runtimes))]
    public async Task A_container_in_a_shared_pid_namespace_ends_with_its_init_though_a_child_holds_its_output(
        string version, string handler)
    {
        // CRI's default NamespaceMode POD for sandbox and container (kubelet's shareProcessNamespace): the container's
        // init is not its pid namespace's init, so its death alone does not end its children. runc's shim kills the rest of the container's cgroup; without that the child kept the output open
        // and the container's exit never came (critest "PodPID", "HostPID": StopPodSandbox hung).
        var ct = CancellationToken.None;
        var run = await CriRun.BeginAsync(fixture, version, output);
        var containerd = run.Containerd;
        try
        {
            await using var pod = await CriPod.RunAsync(containerd, handler, $"pidns-{handler}", ct);
            var id = await pod.CreateContainerAsync("parent", 0, "sleep 600 & echo parent-up; wait", ct);
            await pod.StartContainerAsync(id, ct);
            await Wait.ForAsync("parent-up logged", TimeSpan.FromSeconds(30),
                () => Task.FromResult(pod.Log("parent", 0).Contains("parent-up", StringComparison.Ordinal) ? "" : null), ct);

            var clock = System.Diagnostics.Stopwatch.StartNew();
            await pod.StopContainerAsync(id, 2, ct);
            output.WriteLine($"StopContainer(timeout 2) of a container whose child holds its output: {clock.Elapsed.TotalSeconds:F1} s");
            clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(15));
            (await pod.StatusAsync(id, ct)).State.ShouldBe(ContainerState.ContainerExited);
            await pod.RemoveAsync(ct);
        }
        catch
        {
            run.WriteLogTail();
            throw;
        }
    }
}
