using System.Diagnostics;

namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// One test's view of a private containerd and the runtime under test: ctr commands with the
/// runtime's options, assertion messages that carry the command, its output and containerd's log,
/// and clean-up of every container the test created (also when the test fails).
/// </summary>
internal sealed class ContainerdSession : IAsyncDisposable
{
    private static readonly TimeSpan s_quickTimeout = TimeSpan.FromSeconds(60);
    private readonly List<string> _ids = [];
    // Bounds the whole test: every wait below is also bounded on its own, this is the backstop.
    private readonly CancellationTokenSource _budget;
    // containerd.log length when the test began: failure messages show only what this test caused.
    private readonly long _logStart;
    // Told when a ctr command hangs past its timeout, so later tests of the runtime fail fast.
    private readonly Action<string> _onHang;

    public ContainerdSession(PrivateContainerd containerd, RuntimeUnderTest runtime, string image, TimeSpan budget, Action<string> onHang)
    {
        _onHang = onHang;
        Containerd = containerd;
        Runtime = runtime;
        Image = image;
        _budget = new CancellationTokenSource(budget);
        QemuBefore = Leftovers.QemuPids();
        _logStart = containerd.LogLength();
    }

    public PrivateContainerd Containerd { get; }

    public RuntimeUnderTest Runtime { get; }

    public string Image { get; }

    public CancellationToken CancellationToken => _budget.Token;

    public IReadOnlySet<int> QemuBefore { get; }

    /// <summary>containerd's log (which carries the shim's) since the test began, up to the last <paramref name="lines"/>.</summary>
    public string LogSinceStart(int lines = 400) => Containerd.LogSince(_logStart, lines);

    /// <summary>A fresh container id (valid per containerd's identifier rules), removed on disposal.</summary>
    public string NewId(string prefix)
    {
        var id = $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];
        _ids.Add(id);
        Ledger.Record(Containerd.Address, PrivateContainerd.Namespace, id);
        return id;
    }

    /// <summary>`ctr run --rm --runtime … &lt;image&gt; &lt;id&gt; &lt;command…&gt;`, foreground.</summary>
    public Task<ProcessResult> RunAsync(string id, params string[] command) =>
        GuardAsync(Containerd.CtrAsync(Runtime.StartTimeout, CancellationToken, RunArgs(["--rm"], id, command)));

    /// <summary>Like <see cref="RunAsync"/> with stdout handed to <paramref name="consumer"/> as a stream.</summary>
    public Task<ProcessResult> RunStreamingAsync(string id, Func<Stream, CancellationToken, Task> consumer, TimeSpan timeout, params string[] command) =>
        GuardAsync(Containerd.CtrAsync(timeout, CancellationToken, RunArgs(["--rm"], id, command), consumer));

    /// <summary>`ctr run -t --rm …` on a pseudo-terminal.</summary>
    public Task<ProcessResult> RunOnTtyAsync(string id, params string[] command) =>
        GuardAsync(Containerd.CtrOnTtyAsync(Runtime.StartTimeout, CancellationToken, RunArgs(["--rm", "-t"], id, command)));

    /// <summary>`ctr run --rm …` left running in the background (to be signalled by another ctr).</summary>
    public RunningProcess StartRun(string id, params string[] command) => Containerd.StartCtr(RunArgs(["--rm"], id, command));

    /// <summary>`ctr run -d …`: returns once the task is started; asserts it was.</summary>
    public async Task RunDetachedAsync(string id, params string[] command)
    {
        var result = await GuardAsync(Containerd.CtrAsync(Runtime.StartTimeout, CancellationToken, RunArgs(["-d"], id, command)));
        ShouldSucceed(result);
    }

    /// <summary>`ctr run -d &lt;runOptions…&gt; …` (e.g. `--memory-limit N`): returns once the task is started; asserts it was.</summary>
    public async Task RunDetachedWithAsync(IEnumerable<string> runOptions, string id, params string[] command)
    {
        var result = await GuardAsync(Containerd.CtrAsync(Runtime.StartTimeout, CancellationToken, RunArgs(["-d", .. runOptions], id, command)));
        ShouldSucceed(result);
    }

    /// <summary>`ctr run --rm &lt;runOptions…&gt; …`, foreground.</summary>
    public Task<ProcessResult> RunWithAsync(IEnumerable<string> runOptions, string id, params string[] command) =>
        GuardAsync(Containerd.CtrAsync(Runtime.StartTimeout, CancellationToken, RunArgs(["--rm", .. runOptions], id, command)));

    /// <summary>Any ctr command left running in the background (`ctr events`); the caller disposes it.</summary>
    public RunningProcess StartCtr(params string[] args) => Containerd.StartCtr(args);

    /// <summary>Any other ctr command (`task exec`, `task ps`, ...), bounded by the start timeout.</summary>
    public Task<ProcessResult> CtrAsync(params string[] args) => GuardAsync(Containerd.CtrAsync(Runtime.StartTimeout, CancellationToken, args));

    public Task<ProcessResult> CtrOnTtyAsync(params string[] args) => GuardAsync(Containerd.CtrOnTtyAsync(Runtime.StartTimeout, CancellationToken, args));

    /// <summary>Waits for <paramref name="marker"/> on the stdout of a background `ctr run` (it prints once the task runs).</summary>
    public async Task WaitForStdoutAsync(RunningProcess run, string marker)
    {
        try
        {
            await run.WaitForStdoutAsync(marker, Runtime.StartTimeout, CancellationToken);
        }
        catch (TimeoutException e)
        {
            _onHang(e.Message);
            throw;
        }
    }

    /// <summary>Waits for a background `ctr run` to exit.</summary>
    public Task<ProcessResult> WaitForExitAsync(RunningProcess run, TimeSpan timeout) => GuardAsync(run.WaitAsync(timeout, CancellationToken));

    /// <summary>The context every assertion message carries.</summary>
    public string Because(ProcessResult result) =>
        $"""
        {Runtime.Describe()} on containerd {Containerd.Version} ({Containerd.Directory})
        {result.Describe()}
        --- containerd.log since the test began (tail) ---
        {Containerd.LogSince(_logStart)}
        """;

    public void ShouldSucceed(ProcessResult result)
    {
        result.ExitCode.ShouldBe(0, Because(result));
    }

    /// <summary>Polls `ctr task ls` until <paramref name="id"/> shows <paramref name="status"/>.</summary>
    public async Task WaitForStatusAsync(string id, string status, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        ProcessResult last;
        do
        {
            last = await Containerd.CtrAsync(s_quickTimeout, CancellationToken, ["task", "ls"]);
            if (TaskStatus(last.Stdout, id) == status)
            {
                return;
            }

            await Task.Delay(200, CancellationToken);
        }
        while (clock.Elapsed < timeout);

        Assert.Fail($"task {id} did not reach {status} within {timeout.TotalSeconds} s\n{Because(last)}");
    }

    /// <summary>The STATUS column of <paramref name="id"/> in `ctr task ls` output, or null.</summary>
    public static string? TaskStatus(string taskList, string id) =>
        taskList.Split('\n')
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(cols => cols.Length >= 3 && cols[0] == id)
            .Select(cols => cols[2])
            .FirstOrDefault();

    /// <summary>
    /// The orderly end of a running task: SIGKILL, STOPPED within a minute, <c>task rm</c>, <c>container rm</c>, each of
    /// which must work, then nothing of it may be left.
    /// </summary>
    public async Task KillRemoveAndLeaveNothingAsync(string id)
    {
        ShouldSucceed(await CtrAsync("task", "kill", "-s", "SIGKILL", id));
        await WaitForStatusAsync(id, "STOPPED", TimeSpan.FromSeconds(60));
        ShouldSucceed(await CtrAsync("task", "rm", id));
        ShouldSucceed(await CtrAsync("container", "rm", id));
        await ShouldLeaveNothingAsync(id);
    }

    /// <summary>Asserts that nothing of task <paramref name="id"/> is left, allowing the shim a few seconds to exit.</summary>
    public async Task ShouldLeaveNothingAsync(string id)
    {
        var clock = Stopwatch.StartNew();
        IReadOnlyList<string> left;
        while ((left = Leftovers.Find(Containerd, id, QemuBefore)).Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(250, CancellationToken);
        }

        left.ShouldBeEmpty(
            $"{Runtime.Describe()} on containerd {Containerd.Version}: task {id} left:\n{string.Join('\n', left)}\n--- containerd.log since the test began (tail) ---\n{Containerd.LogSince(_logStart)}");
    }

    /// <summary>Best effort: kill, delete and remove every container this test made.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var id in _ids)
        {
            // Not the test's token: clean-up must run even when the test ran out of time.
            await QuietlyAsync(["task", "kill", "-s", "SIGKILL", id], CancellationToken.None);
            await QuietlyAsync(["task", "rm", "-f", id], CancellationToken.None);
            await QuietlyAsync(["container", "rm", id], CancellationToken.None);
        }

        _budget.Dispose();
    }

    private async Task QuietlyAsync(string[] args, CancellationToken cancellationToken)
    {
        try
        {
            await Containerd.CtrAsync(s_quickTimeout, cancellationToken, args);
        }
        catch (TimeoutException)
        {
            // Clean-up of a broken task; stop.sh removes it with the instance.
        }
    }

    private async Task<ProcessResult> GuardAsync(Task<ProcessResult> call)
    {
        try
        {
            return await call;
        }
        catch (TimeoutException e)
        {
            _onHang(e.Message);
            throw;
        }
    }

    private IEnumerable<string> RunArgs(string[] mode, string id, string[] command) =>
        new[] { "run" }.Concat(mode).Concat(Runtime.RunOptions).Append(Image).Append(id).Concat(command);
}
