using System.Diagnostics;
using Cc.Integration.Cri.Harness;
using Runtime.V1;
using Xunit.Abstractions;

namespace Cc.Integration.Cri;

/// <summary>
/// kubelet's pod lifecycle through containerd's CRI plugin, the same flow for runc (the reference) and for <c>cc</c>
/// (our shim, one VM per pod), on containerd 1.6 and 1.7 (docs/kubernetes.md, "Lifecycle through the CRI").
/// </summary>
[Collection(CriCollection.Name)]
[Trait("Category", "Cri")]
public sealed class PodLifecycleTests(CriFixture fixture, ITestOutputHelper output)
{
    // The first container traps SIGTERM and exits 0 (kubelet's "Completed"); the second ignores it, so only the SIGKILL
    // after StopContainer's timeout ends it (exit 137, "Error"). Both print a marker once their trap is set.
    private const string Sleeper = "trap 'exit 0' TERM; echo sleeper-up; while :; do sleep 1 & wait $!; done";
    private const string Stubborn = "trap '' TERM; echo stubborn-up; while :; do sleep 1; done";
    private const string Restarted = "trap 'exit 0' TERM; echo restarted-1; while :; do sleep 1 & wait $!; done";
    private static readonly TimeSpan s_markerTimeout = TimeSpan.FromSeconds(30);

    public static TheoryData<string, string> Runtimes => new()
    {
        { "1.6", "runc" }, { "1.6", "cc" }, { "1.7", "runc" }, { "1.7", "cc" },
    };

    [Theory]
    [MemberData(nameof(Runtimes))]
    public async Task A_pod_lives_as_kubelet_drives_it(string version, string handler)
    {
        var ct = CancellationToken.None;
        var containerd = await fixture.ContainerdAsync(version);
        var logStart = containerd.LogLength();
        var qemuBefore = PodLeftovers.QemuPids();
        try
        {
            var clock = Stopwatch.StartNew();
            await using var pod = await CriPod.RunAsync(containerd, handler, $"flow-{handler}", ct);
            output.WriteLine($"RunPodSandbox {pod.Id}: {clock.Elapsed.TotalSeconds:F1} s, netns {pod.NetworkNamespace}");

            var sleeper = await pod.CreateContainerAsync("sleeper", 0, Sleeper, ct);
            var stubborn = await pod.CreateContainerAsync("stubborn", 0, Stubborn, ct);
            await pod.StartContainerAsync(sleeper, ct);
            await pod.StartContainerAsync(stubborn, ct);
            await LogShowsAsync(pod, "sleeper", 0, "sleeper-up", ct);
            await LogShowsAsync(pod, "stubborn", 0, "stubborn-up", ct);
            output.WriteLine($"two containers running: {clock.Elapsed.TotalSeconds:F1} s");

            // ExecSync answers when the process has exited and containerd has read its output to end-of-file.
            var execClock = Stopwatch.StartNew();
            var exec = await pod.ExecSyncAsync(sleeper, ct, "sh", "-c", "echo out; echo err >&2; exit 4");
            var execTime = execClock.Elapsed;
            output.WriteLine($"ExecSync: {execTime.TotalMilliseconds:F0} ms");
            exec.ExitCode.ShouldBe(4);
            exec.Stdout.ToStringUtf8().ShouldBe("out\n");
            exec.Stderr.ToStringUtf8().ShouldBe("err\n");
            execTime.ShouldBeLessThan(TimeSpan.FromSeconds(2));

            // Streaming exec through the URL containerd returns; the connection ends with the process.
            var url = (await containerd.Runtime.ExecAsync(
                new ExecRequest { ContainerId = stubborn, Cmd = { "sh", "-c", "echo sout; echo serr >&2; exit 3" }, Stdout = true, Stderr = true },
                deadline: DateTime.UtcNow.AddSeconds(30))).Url;
            execClock.Restart();
            var streamed = await StreamingExec.RunAsync(url, TimeSpan.FromSeconds(30), ct);
            output.WriteLine($"streaming exec: {execClock.Elapsed.TotalMilliseconds:F0} ms, status {streamed.Status}");
            streamed.Stdout.ShouldBe("sout\n");
            streamed.Stderr.ShouldBe("serr\n");
            streamed.ExitCode.ShouldBe(3, streamed.Status);

            // One VM per pod: both containers share the guest's boot id, which is not the host's; runc shares the host's.
            var hostBootId = File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim();
            var bootIds = new List<string>();
            foreach (var id in new[] { sleeper, stubborn })
            {
                var read = await pod.ExecSyncAsync(id, ct, "cat", "/proc/sys/kernel/random/boot_id");
                read.ExitCode.ShouldBe(0, read.Stderr.ToStringUtf8());
                bootIds.Add(read.Stdout.ToStringUtf8().Trim());
            }
            bootIds[0].ShouldNotBeEmpty();
            bootIds[1].ShouldBe(bootIds[0]);
            if (handler == "runc")
            {
                bootIds[0].ShouldBe(hostBootId);
            }
            else
            {
                bootIds[0].ShouldNotBe(hostBootId);
            }

            // Stats with real values, for one container and for the pod's list.
            var stats = (await containerd.Runtime.ContainerStatsAsync(new ContainerStatsRequest { ContainerId = sleeper },
                deadline: DateTime.UtcNow.AddSeconds(30))).Stats;
            ShouldBeReal(stats);
            var list = (await containerd.Runtime.ListContainerStatsAsync(
                new ListContainerStatsRequest { Filter = new ContainerStatsFilter { PodSandboxId = pod.Id } },
                deadline: DateTime.UtcNow.AddSeconds(30))).Stats;
            list.Select(s => s.Attributes.Id).Order().ShouldBe(new[] { sleeper, stubborn }.Order());
            foreach (var s in list)
            {
                ShouldBeReal(s);
            }

            // StopContainer: SIGTERM is ignored, SIGKILL follows the 2 s timeout.
            execClock.Restart();
            await pod.StopContainerAsync(stubborn, 2, ct);
            var stopTime = execClock.Elapsed;
            output.WriteLine($"StopContainer(timeout 2) of the SIGTERM-ignoring container: {stopTime.TotalMilliseconds:F0} ms");
            stopTime.ShouldBeLessThan(TimeSpan.FromSeconds(4));
            var killed = await pod.StatusAsync(stubborn, ct);
            killed.State.ShouldBe(ContainerState.ContainerExited);
            killed.ExitCode.ShouldBe(137);
            killed.Reason.ShouldBe("Error");
            ShouldHaveTimes(killed);

            await pod.StopContainerAsync(sleeper, 10, ct);
            var completed = await pod.StatusAsync(sleeper, ct);
            completed.State.ShouldBe(ContainerState.ContainerExited);
            completed.ExitCode.ShouldBe(0);
            completed.Reason.ShouldBe("Completed");
            ShouldHaveTimes(completed);

            // kubelet's restart: the same name, attempt 1, in the running pod (for cc: the same VM).
            var restarted = await pod.CreateContainerAsync("sleeper", 1, Restarted, ct);
            await pod.StartContainerAsync(restarted, ct);
            await LogShowsAsync(pod, "sleeper", 1, "restarted-1", ct);
            var again = await pod.ExecSyncAsync(restarted, ct, "cat", "/proc/sys/kernel/random/boot_id");
            again.Stdout.ToStringUtf8().Trim().ShouldBe(bootIds[0]);

            // StopPodSandbox stops every container and the VM; Stop and Remove are idempotent.
            clock.Restart();
            await pod.StopAsync(ct);
            output.WriteLine($"StopPodSandbox: {clock.Elapsed.TotalSeconds:F1} s");
            (await pod.StatusAsync(restarted, ct)).State.ShouldBe(ContainerState.ContainerExited);
            await pod.StopAsync(ct);
            clock.Restart();
            await pod.RemoveAsync(ct);
            output.WriteLine($"RemovePodSandbox: {clock.Elapsed.TotalSeconds:F1} s");
            await pod.RemoveAsync(ct);
            var pods = await containerd.Runtime.ListPodSandboxAsync(new ListPodSandboxRequest(), deadline: DateTime.UtcNow.AddSeconds(30));
            pods.Items.Select(p => p.Id).ShouldNotContain(pod.Id);

            await PodLeftovers.ShouldBeGoneAsync(containerd, pod, [sleeper, stubborn, restarted], qemuBefore);
        }
        catch
        {
            output.WriteLine($"--- containerd {version} log (tail) ---\n{containerd.LogSince(logStart)}");
            throw;
        }
    }

    private static async Task LogShowsAsync(CriPod pod, string name, uint attempt, string marker, CancellationToken ct) =>
        await Wait.ForAsync($"{name} attempt {attempt} logs '{marker}'", s_markerTimeout,
            () => Task.FromResult(pod.Log(name, attempt).Contains($" stdout F {marker}\n", StringComparison.Ordinal) ? marker : null), ct);

    private static void ShouldBeReal(ContainerStats stats)
    {
        (stats.Cpu?.UsageCoreNanoSeconds?.Value ?? 0).ShouldBeGreaterThan(0ul, $"cpu of {stats.Attributes?.Id}");
        (stats.Memory?.WorkingSetBytes?.Value ?? 0).ShouldBeGreaterThan(0ul, $"memory of {stats.Attributes?.Id}");
    }

    private static void ShouldHaveTimes(ContainerStatus status)
    {
        status.CreatedAt.ShouldBeGreaterThan(0);
        status.StartedAt.ShouldBeGreaterThanOrEqualTo(status.CreatedAt);
        status.FinishedAt.ShouldBeGreaterThanOrEqualTo(status.StartedAt);
    }
}
