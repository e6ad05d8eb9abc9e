using System.Diagnostics;
using Cc.Integration.Cri.Harness;
using Grpc.Core;
using Runtime.V1;
using Xunit.Abstractions;

namespace Cc.Integration.Cri;

/// <summary>
/// The edges kubelet reaches daily: an exec probe that overruns its timeout, large exec output, stdin through a streaming
/// session, an exec session still open when its
/// container is stopped, a container killed for its memory limit, and RemovePodSandbox of a pod nobody stopped (kubelet's forced clean-up). Same flow for runc
/// and <c>cc</c>, on containerd 1.6 and 1.7.
/// </summary>
[Collection(CriCollection.Name)]
[Trait("Category", "Cri")]
public sealed class ExecAndStopTests(CriFixture fixture, ITestOutputHelper output)
{
    private const string Stubborn = "trap '' TERM; echo stubborn-up; while :; do sleep 1; done";

    public static TheoryData<string, string> Runtimes => PodLifecycleTests.Runtimes;

    [Theory]
    [MemberData(nameof(Runtimes))]
    public async Task Execs_end_with_their_timeout_or_their_container(string version, string handler)
    {
        var ct = CancellationToken.None;
        var containerd = await fixture.ContainerdAsync(version);
        var logStart = containerd.LogLength();
        var qemuBefore = PodLeftovers.QemuPids();
        try
        {
            await using var pod = await CriPod.RunAsync(containerd, handler, $"edge-{handler}", ct);
            var stubborn = await pod.CreateContainerAsync("stubborn", 0, Stubborn, ct);
            await pod.StartContainerAsync(stubborn, ct);
            await Wait.ForAsync("stubborn-up logged", TimeSpan.FromSeconds(30),
                () => Task.FromResult(pod.Log("stubborn", 0).Contains("stubborn-up", StringComparison.Ordinal) ? "" : null), ct);

            // An exec probe past its timeout: containerd kills the exec and answers with an error; the container lives on.
            var clock = Stopwatch.StartNew();
            var overrun = await Should.ThrowAsync<RpcException>(() =>
                containerd.Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = stubborn, Cmd = { "sleep", "30" }, Timeout = 1 },
                    deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
            output.WriteLine($"ExecSync past its 1 s timeout: {clock.Elapsed.TotalMilliseconds:F0} ms, {overrun.Status}");
            clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(5));
            overrun.Status.Detail.ShouldContain("timeout");
            var alive = await pod.ExecSyncAsync(stubborn, ct, "echo", "alive");
            alive.Stdout.ToStringUtf8().ShouldBe("alive\n");

            // Output larger than any pipe or FIFO buffer arrives whole (flow control from the guest to containerd's reader).
            var big = await pod.ExecSyncAsync(stubborn, ct, "sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x");
            big.ExitCode.ShouldBe(0, big.Stderr.ToStringUtf8());
            big.Stdout.Length.ShouldBe(1_000_000);
            big.Stdout.All(b => b == (byte)'x').ShouldBeTrue();

            // kubectl exec -i: stdin reaches the process through the streaming session.
            var echoUrl = (await containerd.Runtime.ExecAsync(
                new ExecRequest { ContainerId = stubborn, Cmd = { "head", "-n", "1" }, Stdin = true, Stdout = true, Stderr = true },
                deadline: DateTime.UtcNow.AddSeconds(30))).Url;
            var echoed = await StreamingExec.RunAsync(echoUrl, TimeSpan.FromSeconds(30), ct, stdin: "through stdin\n");
            echoed.Stdout.ShouldBe("through stdin\n");
            echoed.ExitCode.ShouldBe(0, echoed.Status);

            // An exec session open while its container is stopped: the stop is not delayed and the session ends, killed.
            var url = (await containerd.Runtime.ExecAsync(
                new ExecRequest { ContainerId = stubborn, Cmd = { "sh", "-c", "echo session-up; exec sleep 600" }, Stdout = true, Stderr = true },
                deadline: DateTime.UtcNow.AddSeconds(30))).Url;
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var session = StreamingExec.RunAsync(url, TimeSpan.FromSeconds(60), ct,
                stdout => { if (stdout.Contains("session-up", StringComparison.Ordinal)) { up.TrySetResult(); } });
            await Task.WhenAny(up.Task, session).WaitAsync(TimeSpan.FromSeconds(30));
            up.Task.IsCompleted.ShouldBeTrue("the exec session printed nothing");
            clock.Restart();
            await pod.StopContainerAsync(stubborn, 2, ct);
            output.WriteLine($"StopContainer(timeout 2) with an exec session open: {clock.Elapsed.TotalMilliseconds:F0} ms");
            clock.Elapsed.ShouldBeLessThan(TimeSpan.FromSeconds(4));
            var ended = await session.WaitAsync(TimeSpan.FromSeconds(10));
            output.WriteLine($"the exec session ended: {ended.Status}");
            ended.ExitCode.ShouldBe(137, ended.Status);
            var status = await pod.StatusAsync(stubborn, ct);
            status.ExitCode.ShouldBe(137);
            status.Reason.ShouldBe("Error");

            // A process past its container's memory limit is OOM-killed in its cgroup (for cc: the guest's), and kubelet
            // reads OOMKilled: containerd sets that reason when the runtime publishes TaskOOM.
            var hog = await pod.CreateContainerAsync("hog", 0, "dd if=/dev/zero of=/dev/null bs=96M count=1", ct,
                memoryLimitBytes: 32 * 1024 * 1024);
            await pod.StartContainerAsync(hog, ct);
            var oom = await Wait.ForAsync("the hog exits", TimeSpan.FromSeconds(60), async () =>
            {
                var s = await pod.StatusAsync(hog, ct);
                return s.State == ContainerState.ContainerExited ? s : null;
            }, ct);
            output.WriteLine($"hog: exit {oom.ExitCode}, reason {oom.Reason}");
            oom.ExitCode.ShouldBe(137, pod.Log("hog", 0));
            oom.Reason.ShouldBe("OOMKilled");

            // RemovePodSandbox without StopPodSandbox stops it first; nothing is left.
            var second = await pod.CreateContainerAsync("second", 0, Stubborn, ct);
            await pod.StartContainerAsync(second, ct);
            clock.Restart();
            await pod.RemoveAsync(ct);
            output.WriteLine($"RemovePodSandbox of a running pod: {clock.Elapsed.TotalSeconds:F1} s");
            await PodLeftovers.ShouldBeGoneAsync(containerd, pod, [stubborn, hog, second], qemuBefore);
        }
        catch
        {
            output.WriteLine($"--- containerd {version} log (tail) ---\n{containerd.LogSince(logStart)}");
            throw;
        }
    }
}
