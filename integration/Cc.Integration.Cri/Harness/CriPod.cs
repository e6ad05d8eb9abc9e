using System.Text;
using System.Text.Json;
using Grpc.Core;
using Runtime.V1;

namespace Cc.Integration.Cri.Harness;

/// <summary>
/// One pod driven as kubelet drives it: RunPodSandbox with a log directory, containers created with the pod's config,
/// every call with a deadline. Disposal stops and removes the pod if the test did not (a failed test must not leave
/// a pod to the next one) and deletes the log directory.
/// </summary>
internal sealed class CriPod : IAsyncDisposable
{
    public const string BusyboxImage = "localhost/cc/busybox:test";

    private static readonly TimeSpan s_runTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan s_callTimeout = TimeSpan.FromSeconds(60);
    private readonly CriContainerd _containerd;
    private bool _removed;

    private CriPod(CriContainerd containerd, string id, PodSandboxConfig config, string? netns)
    {
        _containerd = containerd;
        Id = id;
        Config = config;
        NetworkNamespace = netns;
    }

    public string Id { get; }

    public PodSandboxConfig Config { get; }

    public string LogDirectory => Config.LogDirectory;

    /// <summary>The pod's network namespace as the CRI made it (from the sandbox's runtime spec), or null.</summary>
    public string? NetworkNamespace { get; }

    private RuntimeService.RuntimeServiceClient Runtime => _containerd.Runtime;

    /// <summary>RunPodSandbox, then PodSandboxStatus as kubelet does; <paramref name="hostPid"/> is <c>hostPID: true</c>.</summary>
    public static async Task<CriPod> RunAsync(CriContainerd containerd, string handler, string name, CancellationToken cancellationToken,
        DNSConfig? dns = null, bool hostPid = false)
    {
        var logs = Directory.CreateTempSubdirectory("cc-cri-logs.").FullName;
        var config = new PodSandboxConfig
        {
            Metadata = new PodSandboxMetadata { Name = name, Namespace = "cc-cri", Uid = Guid.NewGuid().ToString("N"), Attempt = 0 },
            Hostname = name,
            LogDirectory = logs,
            Linux = new LinuxPodSandboxConfig
            {
                SecurityContext = hostPid
                    ? new LinuxSandboxSecurityContext { NamespaceOptions = new NamespaceOption { Pid = NamespaceMode.Node } }
                    : null,
            },
            DnsConfig = dns,
        };
        RunPodSandboxResponse response;
        try
        {
            response = await containerd.Runtime.RunPodSandboxAsync(
                new RunPodSandboxRequest { Config = config, RuntimeHandler = handler },
                deadline: DateTime.UtcNow + s_runTimeout, cancellationToken: cancellationToken);
        }
        catch
        {
            // No pod, so no DisposeAsync: the log directory is ours to remove (make stress found them left).
            Directory.Delete(logs, recursive: true);
            throw;
        }
        var status = await containerd.Runtime.PodSandboxStatusAsync(
            new PodSandboxStatusRequest { PodSandboxId = response.PodSandboxId, Verbose = true },
            deadline: DateTime.UtcNow + s_callTimeout, cancellationToken: cancellationToken);
        return new CriPod(containerd, response.PodSandboxId, config, NetworkNamespaceOf(status));
    }

    /// <summary>The pod's IP as PodSandboxStatus reports it (what kubelet publishes as the pod's status.podIP).</summary>
    public async Task<string> IpAsync(CancellationToken cancellationToken)
    {
        var status = await Runtime.PodSandboxStatusAsync(new PodSandboxStatusRequest { PodSandboxId = Id },
            deadline: DateTime.UtcNow + s_callTimeout, cancellationToken: cancellationToken);
        return status.Status.Network?.Ip ?? "";
    }

    /// <summary>
    /// Creates a busybox container running <paramref name="script"/> under <c>sh -c</c>; its log is &lt;name&gt;_&lt;attempt&gt;.log.
    /// It gets the pod's namespace modes, as kubelet gives them, and <paramref name="addCapabilities"/> (e.g. SYS_PTRACE);
    /// <paramref name="configure"/> edits the config last (volumes, a security context of its own).
    /// </summary>
    public async Task<string> CreateContainerAsync(string name, uint attempt, string script, CancellationToken cancellationToken,
        long memoryLimitBytes = 0, IReadOnlyList<string>? addCapabilities = null, Action<ContainerConfig>? configure = null)
    {
        // No security context at all unless asked for: what the other tests have always sent.
        var namespaces = Config.Linux.SecurityContext?.NamespaceOptions;
        var security = namespaces is null && addCapabilities is null
            ? null
            : new LinuxContainerSecurityContext
            {
                NamespaceOptions = namespaces,
                Capabilities = addCapabilities is null ? null : new Capability { AddCapabilities = { addCapabilities } },
            };
        var config = new ContainerConfig
        {
            Metadata = new ContainerMetadata { Name = name, Attempt = attempt },
            Image = new ImageSpec { Image = BusyboxImage },
            Command = { "sh", "-c", script },
            LogPath = LogPathOf(name, attempt),
            Linux = new LinuxContainerConfig
            {
                Resources = memoryLimitBytes > 0 ? new LinuxContainerResources { MemoryLimitInBytes = memoryLimitBytes } : null,
                SecurityContext = security,
            },
        };
        configure?.Invoke(config);
        var response = await Runtime.CreateContainerAsync(
            new CreateContainerRequest { PodSandboxId = Id, Config = config, SandboxConfig = Config },
            deadline: DateTime.UtcNow + s_callTimeout, cancellationToken: cancellationToken);
        return response.ContainerId;
    }

    public async Task StartContainerAsync(string id, CancellationToken cancellationToken) =>
        await Runtime.StartContainerAsync(new StartContainerRequest { ContainerId = id },
            deadline: DateTime.UtcNow + s_callTimeout, cancellationToken: cancellationToken);

    public async Task<ExecSyncResponse> ExecSyncAsync(string id, CancellationToken cancellationToken, params string[] cmd) =>
        await Runtime.ExecSyncAsync(new ExecSyncRequest { ContainerId = id, Cmd = { cmd }, Timeout = 30 },
            deadline: DateTime.UtcNow + s_callTimeout, cancellationToken: cancellationToken);

    public async Task<ContainerStatus> StatusAsync(string id, CancellationToken cancellationToken) =>
        (await Runtime.ContainerStatusAsync(new ContainerStatusRequest { ContainerId = id },
            deadline: DateTime.UtcNow + s_callTimeout, cancellationToken: cancellationToken)).Status;

    public async Task StopContainerAsync(string id, long timeoutSeconds, CancellationToken cancellationToken) =>
        await Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = id, Timeout = timeoutSeconds },
            deadline: DateTime.UtcNow + s_callTimeout + TimeSpan.FromSeconds(timeoutSeconds), cancellationToken: cancellationToken);

    public async Task StopAsync(CancellationToken cancellationToken) =>
        await Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = Id },
            deadline: DateTime.UtcNow + s_runTimeout, cancellationToken: cancellationToken);

    public async Task RemoveAsync(CancellationToken cancellationToken)
    {
        await Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = Id },
            deadline: DateTime.UtcNow + s_runTimeout, cancellationToken: cancellationToken);
        _removed = true;
    }

    /// <summary>The container's CRI log (kubelet's format: "&lt;time&gt; stdout F &lt;line&gt;"), empty while absent.</summary>
    public string Log(string name, uint attempt)
    {
        var path = Path.Combine(LogDirectory, LogPathOf(name, attempt));
        return File.Exists(path) ? File.ReadAllText(path, Encoding.UTF8) : "";
    }

    public async ValueTask DisposeAsync()
    {
        if (!_removed)
        {
            try
            {
                await StopAsync(CancellationToken.None);
                await RemoveAsync(CancellationToken.None);
            }
            catch (RpcException)
            {
                // The fixture's stop.sh removes what is left with the instance.
            }
        }
        try
        {
            Directory.Delete(LogDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static string LogPathOf(string name, uint attempt) => $"{name}_{attempt}.log";

    /// <summary>containerd 1.6/1.7 put the sandbox's runtime spec into the verbose info: the netns is its network namespace path.</summary>
    private static string? NetworkNamespaceOf(PodSandboxStatusResponse status)
    {
        if (!status.Info.TryGetValue("info", out var info))
        {
            return null;
        }
        using var doc = JsonDocument.Parse(info);
        if (!doc.RootElement.TryGetProperty("runtimeSpec", out var spec)
            || !spec.TryGetProperty("linux", out var linux) || !linux.TryGetProperty("namespaces", out var namespaces))
        {
            return null;
        }
        foreach (var ns in namespaces.EnumerateArray())
        {
            if (ns.GetProperty("type").GetString() == "network" && ns.TryGetProperty("path", out var path))
            {
                return path.GetString();
            }
        }
        return null;
    }
}
