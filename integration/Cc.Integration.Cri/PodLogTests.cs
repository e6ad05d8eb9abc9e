using Cc.Integration.Cri.Harness;
using Xunit.Abstractions;

namespace Cc.Integration.Cri;

/// <summary>
/// The shim's log lines of a CRI pod (docs/troubleshooting.md, "Reading the logs"): one shim serves the pod, so every
/// line names the pod's sandbox (the pause container's id), and a line about one of its containers names that container
/// as well, distinct from the sandbox: the pause container's own lines name it, an app container's name the app.
/// </summary>
[Collection(CriCollection.Name)]
[Trait("Category", "Cri")]
public sealed class PodLogTests(CriFixture fixture, ITestOutputHelper output)
{
    private const string Suffix = $"namespace={CriContainerd.Namespace} runtime=io.containerd.cc.v2";
    private static readonly TimeSpan s_lineTimeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("1.7")]
    public async Task A_pods_shim_lines_name_the_sandbox_and_the_app_container_each_with_its_own_id(string version)
    {
        var ct = CancellationToken.None;
        var run = await CriRun.BeginAsync(fixture, version, output);
        try
        {
            await using var pod = await CriPod.RunAsync(run.Containerd, "cc", "logs-cc", ct);
            var app = await pod.CreateContainerAsync("app", 0, "echo app-up; exec sleep 1000", ct);
            await pod.StartContainerAsync(app, ct);
            var exec = await pod.ExecSyncAsync(app, ct, "true");
            exec.ExitCode.ShouldBe(0, exec.Stderr.ToStringUtf8());
            app.ShouldNotBe(pod.Id, "CRI gives the app container an id of its own, not the sandbox's");

            // The pause container's init: the sandbox's own container.
            var pause = await LineAsync(run, l => l.Contains("exit watch armed", StringComparison.Ordinal)
                && l.Contains($" container={pod.Id} ", StringComparison.Ordinal));
            pause.ShouldEndWith($" sandbox={pod.Id} container={pod.Id} {Suffix}");
            // The app container's init, and its exec: the same sandbox, the app's id.
            var init = await LineAsync(run, l => l.Contains("exit watch armed", StringComparison.Ordinal)
                && l.Contains($" container={app} ", StringComparison.Ordinal) && !l.Contains(" exec=", StringComparison.Ordinal));
            init.ShouldEndWith($" sandbox={pod.Id} container={app} {Suffix}");
            var execLine = await LineAsync(run, l => l.Contains("exit watch armed", StringComparison.Ordinal)
                && l.Contains($" container={app} exec=", StringComparison.Ordinal));
            execLine.ShouldContain($" sandbox={pod.Id} container={app} exec=");
            // The guest agent's line about the app container comes through the pod's shim, under the pod's sandbox.
            var agent = await LineAsync(run, l => l.Contains(" source=agent ", StringComparison.Ordinal)
                && l.Contains($"container {app} created", StringComparison.Ordinal));
            agent.ShouldEndWith($" source=agent sandbox={pod.Id} {Suffix}");
            // No line of this pod's shim names the app container under another sandbox.
            ShimLines(run).Where(l => l.Contains($" container={app} ", StringComparison.Ordinal))
                .ShouldAllBe(l => l.Contains($" sandbox={pod.Id} ", StringComparison.Ordinal));

            await pod.StopAsync(ct);
            await pod.RemoveAsync(ct);
            await PodLeftovers.ShouldBeGoneAsync(run.Containerd, pod, [app], run.QemuBefore);
        }
        catch
        {
            run.WriteLogTail();
            throw;
        }
    }

    /// <summary>The shims' lines in containerd's log since the test began.</summary>
    private static IEnumerable<string> ShimLines(CriRun run) =>
        run.LogSinceStart(20000).Split('\n').Where(l => l.EndsWith(Suffix, StringComparison.Ordinal));

    /// <summary>The first shim line matching <paramref name="match"/>; guest lines arrive a console poll late, so the log is read again until one does.</summary>
    private static Task<string> LineAsync(CriRun run, Func<string, bool> match) =>
        Wait.ForAsync("a matching shim line in containerd's log", s_lineTimeout,
            () => Task.FromResult(ShimLines(run).FirstOrDefault(match)), CancellationToken.None);
}
