namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// One private containerd (1.6 or 1.7) started by hack/containerd/start.sh: its own root, state,
/// sockets and log under a temp dir; never the system's /run/containerd. Every ctr call goes through
/// hack/containerd/ctr.sh, which selects the matching ctr and keeps stdio FIFOs under our dir.
/// Disposal runs hack/containerd/stop.sh: tasks and containers deleted, containerd stopped, leftover
/// shims and their children killed, our shim sockets removed, mounts undone, the dir deleted.
/// </summary>
internal sealed class PrivateContainerd : IAsyncDisposable
{
    /// <summary>The namespace every test uses; the image is imported into it once.</summary>
    public const string Namespace = "cc-it";

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(120);

    private PrivateContainerd(string version, string directory)
    {
        Version = version;
        Directory = directory;
    }

    public string Version { get; }

    /// <summary>The instance dir: config.toml, containerd.log, env, root/, state/, fifo/.</summary>
    public string Directory { get; }

    /// <summary>containerd's gRPC socket: the `-address` every shim gets, hashed into its socket name.</summary>
    public string Address => Path.Combine(Directory, "containerd.sock");

    public string LogPath => Path.Combine(Directory, "containerd.log");

    public string FifoDirectory => Path.Combine(Directory, "fifo");

    /// <summary>Where containerd makes task bundles: state/io.containerd.runtime.v2.task/&lt;ns&gt;/&lt;id&gt;.</summary>
    public string BundlePath(string id) => Path.Combine(Directory, "state", "io.containerd.runtime.v2.task", Namespace, id);

    public static Task<PrivateContainerd> StartAsync(string version, CancellationToken cancellationToken) =>
        StartAsync(version, [], cancellationToken);

    /// <summary>With more of start.sh's options, e.g. <c>--stock --shim-dir DIR --configure CMD</c> (a node's installer).</summary>
    public static async Task<PrivateContainerd> StartAsync(string version, IEnumerable<string> options, CancellationToken cancellationToken)
    {
        var result = await ProcessRunner.RunAsync(
            RepoPaths.Hack("containerd/start.sh"), ["--version", version, .. options], s_startTimeout, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"containerd {version} did not start:\n{result.Describe()}");
        }

        return new PrivateContainerd(version, result.Stdout.Trim());
    }

    /// <summary>Runs `ctr -n cc-it &lt;args&gt;` to completion within <paramref name="timeout"/>.</summary>
    public Task<ProcessResult> CtrAsync(
        TimeSpan timeout,
        CancellationToken cancellationToken,
        IEnumerable<string> args,
        Func<Stream, CancellationToken, Task>? stdoutConsumer = null) =>
        ProcessRunner.RunAsync(RepoPaths.Hack("containerd/ctr.sh"), CtrArgs(args), timeout, cancellationToken, stdoutConsumer);

    /// <summary>Starts `ctr -n cc-it &lt;args&gt;` and returns while it runs (foreground `ctr run` killed from another ctr).</summary>
    public RunningProcess StartCtr(IEnumerable<string> args, Func<Stream, CancellationToken, Task>? stdoutConsumer = null) =>
        new(RepoPaths.Hack("containerd/ctr.sh"), CtrArgs(args), stdoutConsumer);

    /// <summary>
    /// Runs ctr on a pseudo-terminal (`script -qec`), as a user at a terminal would: needed for `-t`,
    /// which makes ctr put its own stdin in raw mode and fail without a tty. Output arrives with CRLF.
    /// </summary>
    public Task<ProcessResult> CtrOnTtyAsync(TimeSpan timeout, CancellationToken cancellationToken, IEnumerable<string> args)
    {
        var command = ShellQuote.Join(CtrArgs(args).Prepend(RepoPaths.Hack("containerd/ctr.sh")));
        return ProcessRunner.RunAsync("script", ["-qec", command, "/dev/null"], timeout, cancellationToken);
    }

    /// <summary>
    /// Restarts containerd (SIGTERM, then the same binary and config) with hack/containerd/restart.sh; shims and their
    /// tasks keep running and containerd reconnects to them from the bundles' address files.
    /// </summary>
    public async Task RestartAsync(CancellationToken cancellationToken)
    {
        var result = await ProcessRunner.RunAsync(RepoPaths.Hack("containerd/restart.sh"), [Directory], s_startTimeout, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"containerd {Version} did not restart:\n{result.Describe()}");
        }
    }

    public long LogLength() => LogTail.Length(LogPath);

    /// <summary>The last <paramref name="lines"/> lines containerd logged after byte <paramref name="offset"/>, for failure messages.</summary>
    public string LogSince(long offset, int lines = 40) => LogTail.Since(LogPath, offset, lines);

    public async ValueTask DisposeAsync()
    {
        var result = await ProcessRunner.RunAsync(
            RepoPaths.Hack("containerd/stop.sh"), [Directory], s_stopTimeout, CancellationToken.None);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"containerd {Version} was not cleaned up:\n{result.Describe()}");
        }
    }

    private IEnumerable<string> CtrArgs(IEnumerable<string> args) => args.Prepend(Namespace).Prepend("-n").Prepend(Directory);
}
