using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Docker.Harness;

/// <summary>
/// One private dockerd started by hack/docker/start.sh: trixie's Docker 26.1 on its own data root, exec root and API
/// socket, on a private containerd 1.7 under the same directory, with runtimes.cc = io.containerd.cc.v2 in its
/// daemon.json and the local busybox image loaded. Every docker call goes through hack/docker/docker.sh. Disposal runs
/// hack/docker/stop.sh: containers removed, dockerd and containerd stopped, leftover shims and VMs killed, shim sockets
/// and mounts removed, the directory deleted.
/// </summary>
internal sealed class PrivateDocker : IAsyncDisposable
{
    /// <summary>The containerd namespace dockerd keeps its containers in (its --containerd-namespace default).</summary>
    public const string ContainerdNamespace = "moby";

    /// <summary>Fetching Docker from trixie on a fresh machine (about 30 MB) counts against the start.</summary>
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromMinutes(3);

    private PrivateDocker(string directory) => Directory = directory;

    /// <summary>The instance dir: daemon.json, dockerd.log, docker.sock, data/, exec/, cli/, ctrd/ (the containerd instance).</summary>
    public string Directory { get; }

    /// <summary>The instance's own bridge, Docker's default network (hack/docker/start.sh: <c>ccd-&lt;hash&gt;</c>).</summary>
    public string Bridge => EnvValue("CC_DOCKER_BRIDGE");

    /// <summary>The bridge's IPv4 subnet, <c>10.231.N.0/24</c>.</summary>
    public string Subnet => EnvValue("CC_DOCKER_SUBNET");

    private string EnvValue(string key) =>
        File.ReadAllLines(Path.Combine(Directory, "env")).Select(l => l.Split('=', 2)).FirstOrDefault(kv => kv[0] == key) is [_, var value]
            ? value
            : throw new InvalidOperationException($"{key} is not in {Directory}/env");

    /// <summary>containerd's gRPC socket: the `-address` every shim gets, hashed into its socket name.</summary>
    public string ContainerdAddress => Path.Combine(Directory, "ctrd", "containerd.sock");

    public string ContainerdLogPath => Path.Combine(Directory, "ctrd", "containerd.log");

    public string DockerdLogPath => Path.Combine(Directory, "dockerd.log");

    /// <summary>Where containerd makes a task's bundle: state/io.containerd.runtime.v2.task/moby/&lt;id&gt;.</summary>
    public string BundlePath(string id) =>
        Path.Combine(Directory, "ctrd", "state", "io.containerd.runtime.v2.task", ContainerdNamespace, id);

    public static async Task<PrivateDocker> StartAsync(CancellationToken cancellationToken)
    {
        var result = await ProcessRunner.RunAsync(RepoPaths.Hack("docker/start.sh"), [], s_startTimeout, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"the private dockerd did not start:\n{result.Describe()}");
        }

        return new PrivateDocker(result.Stdout.Trim());
    }

    /// <summary>Runs `docker &lt;args&gt;` against this instance to completion within <paramref name="timeout"/>.</summary>
    public Task<ProcessResult> DockerAsync(TimeSpan timeout, CancellationToken cancellationToken, params IEnumerable<string> args) =>
        ProcessRunner.RunAsync(RepoPaths.Hack("docker/docker.sh"), args.Prepend(Directory), timeout, cancellationToken);

    /// <summary>Starts `docker &lt;args&gt;` and returns while it runs (`docker logs -f`).</summary>
    public RunningProcess StartDocker(params IEnumerable<string> args) =>
        new(RepoPaths.Hack("docker/docker.sh"), args.Prepend(Directory), stdoutConsumer: null);

    public long ContainerdLogLength() => LogTail.Length(ContainerdLogPath);

    /// <summary>containerd's and dockerd's last lines since the given offsets, for failure messages.</summary>
    public string LogsSince(long containerdOffset, int lines = 30) =>
        $"--- containerd.log ---\n{LogTail.Since(ContainerdLogPath, containerdOffset, lines)}\n--- dockerd.log (tail) ---\n{LogTail.Since(DockerdLogPath, 0, lines)}";

    public async ValueTask DisposeAsync()
    {
        var result = await ProcessRunner.RunAsync(RepoPaths.Hack("docker/stop.sh"), [Directory], s_stopTimeout, CancellationToken.None);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"the private dockerd was not cleaned up:\n{result.Describe()}");
        }
    }
}
