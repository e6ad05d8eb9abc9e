using System.Net.Sockets;
using Cc.Integration.Containerd.Harness;
using Grpc.Net.Client;
using Runtime.V1;

namespace Cc.Integration.Cri.Harness;

/// <summary>
/// One private containerd (1.6 or 1.7) with its CRI plugin, started by <c>hack/containerd/start.sh --cri</c>: CNI
/// (bridge, host-local, loopback) configured for this instance only, the local pause and busybox images in namespace
/// k8s.io. Talks CRI over gRPC on the instance's unix socket, as kubelet does. Disposal runs
/// <c>hack/containerd/stop.sh</c>, which also removes what the CRI made (netns, veths, the bridge).
/// </summary>
internal sealed class CriContainerd : IAsyncDisposable
{
    /// <summary>The containerd namespace of the CRI plugin.</summary>
    public const string Namespace = "k8s.io";

    private static readonly TimeSpan s_startTimeout = TimeSpan.FromMinutes(4);
    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromMinutes(2);
    private readonly GrpcChannel _channel;

    private CriContainerd(string version, string directory, IReadOnlyDictionary<string, string> env)
    {
        Version = version;
        Directory = directory;
        Bridge = env.GetValueOrDefault("CC_CNI_BRIDGE", "");
        _channel = UnixChannel(Address);
        Runtime = new RuntimeService.RuntimeServiceClient(_channel);
        Images = new ImageService.ImageServiceClient(_channel);
    }

    public string Version { get; }

    /// <summary>The instance dir (config.toml, containerd.log, env, root/, state/, cni/).</summary>
    public string Directory { get; }

    /// <summary>containerd's gRPC socket: the CRI endpoint, and the <c>-address</c> every shim gets.</summary>
    public string Address => Path.Combine(Directory, "containerd.sock");

    /// <summary>This instance's CNI bridge (made by the bridge plugin on the first pod).</summary>
    public string Bridge { get; }

    public string LogPath => Path.Combine(Directory, "containerd.log");

    public RuntimeService.RuntimeServiceClient Runtime { get; }

    public ImageService.ImageServiceClient Images { get; }

    /// <summary>Starts an instance; <paramref name="configure"/> is start.sh's <c>--configure</c> (bash run on the rendered
    /// config.toml, named by CC_CONTAINERD_CONFIG), e.g. to add a runtime handler of the test's own.</summary>
    public static async Task<CriContainerd> StartAsync(string version, CancellationToken cancellationToken, string? configure = null)
    {
        string[] arguments = configure is null
            ? ["--cri", "--version", version]
            : ["--cri", "--version", version, "--configure", configure];
        var result = await ProcessRunner.RunAsync(
            RepoPaths.Hack("containerd/start.sh"), arguments, s_startTimeout, cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"containerd {version} with CRI did not start:\n{result.Describe()}");
        }

        var directory = result.Stdout.Trim();
        var env = File.ReadAllLines(Path.Combine(directory, "env"))
            .Where(line => line.Contains('=', StringComparison.Ordinal))
            .Select(line => line.Split('=', 2))
            .ToDictionary(kv => kv[0], kv => kv[1], StringComparer.Ordinal);
        return new CriContainerd(version, directory, env);
    }

    public long LogLength() => LogTail.Length(LogPath);

    /// <summary>The last <paramref name="lines"/> lines containerd logged after byte <paramref name="offset"/>, for failure messages.</summary>
    public string LogSince(long offset, int lines = 60) => LogTail.Since(LogPath, offset, lines);

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        var result = await ProcessRunner.RunAsync(
            RepoPaths.Hack("containerd/stop.sh"), [Directory], s_stopTimeout, CancellationToken.None);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"containerd {Version} was not cleaned up:\n{result.Describe()}");
        }
    }

    /// <summary>
    /// gRPC over a unix socket: every connection the handler opens goes to <paramref name="socket"/>; the URI's host is
    /// only the HTTP/2 :authority. Grpc.Net.Client asks for HTTP/2 exactly, so plain-text h2 needs no TLS switch.
    /// </summary>
    private static GrpcChannel UnixChannel(string socket)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken);
                    return new NetworkStream(s, ownsSocket: true);
                }
                catch
                {
                    s.Dispose();
                    throw;
                }
            },
        };
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
    }
}
