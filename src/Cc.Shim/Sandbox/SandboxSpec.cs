namespace Cc.Shim.Sandbox;

/// <summary>
/// The pod as the VM gets it: read once, from the config.json of the container whose Create boots the VM (with CRI the
/// pause container; with <c>ctr run</c> the only one). Everything the launch needs besides places and ids is here, so
/// the VM is sized, named and networked from one value (docs/kubernetes.md, "The pod inside the VM").
/// </summary>
/// <param name="IsCriSandbox">The first container is a CRI pod sandbox (container-type <c>sandbox</c>, any of the
/// producers of protocol.md §2.9.1). False for a plain <c>ctr run</c> container.</param>
/// <param name="Pod">The pod's name, namespace and uid from the CRI annotations; null when not a CRI sandbox.</param>
/// <param name="Hostname">The guest's hostname: <c>spec.hostname</c>, else the container id cut to 63 bytes.</param>
/// <param name="Network">The spec's network namespace entry.</param>
/// <param name="Sysctls">The spec's <c>linux.sysctl</c>, as written.</param>
/// <param name="ResolvConfPath">The host source of the spec's <c>/etc/resolv.conf</c> bind, when it has one. containerd's
/// CRI gives the pause container none (only app containers get the pod's resolv.conf), so with CRI this is null.</param>
/// <param name="Resources">The pod's sizing hints (CRI <c>io.kubernetes.cri.sandbox-*</c> annotations).</param>
public sealed record SandboxSpec(
    bool IsCriSandbox,
    PodIdentity? Pod,
    string Hostname,
    SandboxNetwork Network,
    IReadOnlyDictionary<string, string> Sysctls,
    string? ResolvConfPath,
    PodResources Resources)
{
    /// <summary>Longest hostname the kernel takes (HOST_NAME_MAX).</summary>
    public const int MaxHostnameLength = 63;

    /// <summary>The host network namespace the spec names (CNI's netns of the pod), or null.</summary>
    public string? NetworkNamespacePath => Network.Path;
}

/// <summary>Who the pod is, from <c>io.kubernetes.cri.sandbox-name</c>, <c>-namespace</c> and <c>-uid</c> (empty when absent).</summary>
public sealed record PodIdentity(string Name, string Namespace, string Uid);

/// <summary>
/// The network namespace entry of the spec. <see cref="HasNamespace"/> false = no <c>linux.namespaces[type=network]</c>
/// entry at all, which for a CRI sandbox means <c>hostNetwork: true</c>. <see cref="Path"/> = the entry's path (CNI's
/// netns, <c>ctr run --with-ns network:…</c>); null with an entry = a fresh namespace (loopback only).
/// </summary>
public sealed record SandboxNetwork(bool HasNamespace, string? Path)
{
    public static SandboxNetwork Fresh { get; } = new(true, null);

    public static SandboxNetwork Host { get; } = new(false, null);
}

/// <summary>
/// The pod's resources as CRI announces them on the pause container (the sums of its containers' requests/limits, set
/// by kubelet 1.23+); null = not announced. Units as the annotations carry them: microseconds, shares, bytes.
/// </summary>
public sealed record PodResources(ulong? CpuPeriod, long? CpuQuota, ulong? CpuShares, long? MemoryLimitBytes)
{
    public static PodResources None { get; } = new(null, null, null, null);

    /// <summary>ceil(quota / period) when both are positive, else null (no CPU limit).</summary>
    public int? CpuLimit => CpuQuota is > 0 && CpuPeriod is > 0
        ? (int)Math.Min(int.MaxValue, ((ulong)CpuQuota.Value + CpuPeriod.Value - 1) / CpuPeriod.Value)
        : null;

    /// <summary>The memory limit in MiB, rounded up; null when not positive.</summary>
    public long? MemoryLimitMiB => MemoryLimitBytes is > 0 ? (MemoryLimitBytes.Value + (1L << 20) - 1) >> 20 : null;
}
