namespace Cc.Shim.Sandbox;

/// <summary>
/// What Task Pids answers (<c>[runtime] pids</c>, docs/configuration.md). containerd's API says "host pids" but a
/// VM's processes have none: <see cref="Guest"/> gives the guest's pids (what <c>ctr task ps</c>, nerdctl and CRI
/// clients list, as under runc), <see cref="Vmm"/> the pid of the QEMU that runs the pod (a true host process, what
/// a client that looks pids up on the host needs: dockerd's <c>docker top</c> runs the host's <c>ps</c>; Kata answers
/// it everywhere). <see cref="Auto"/> is <see cref="Vmm"/> in dockerd's containerd namespace, else <see cref="Guest"/>.
/// </summary>
public enum PidsSource
{
    Auto,
    Guest,
    Vmm,
}

public static class PidsSources
{
    /// <summary>
    /// dockerd's containerd namespace (its <c>--containerd-namespace</c> default), the one <see cref="PidsSource.Auto"/>
    /// answers with the VMM pid: dockerd is the client that reads Pids as host pids, so guest pids would show whatever
    /// host process has the same number (a kernel thread, for the small pids of a guest).
    /// </summary>
    public const string DockerNamespace = "moby";

    /// <summary>The value of <c>runtime.pids</c>; anything but <c>auto</c>, <c>guest</c> or <c>vmm</c> is refused, naming the key.</summary>
    public static PidsSource Parse(string value) => value switch
    {
        "auto" => PidsSource.Auto,
        "guest" => PidsSource.Guest,
        "vmm" => PidsSource.Vmm,
        _ => throw new FormatException($"runtime.pids = \"{value}\" is not one of \"auto\", \"guest\", \"vmm\""),
    };

    /// <summary>Whether Pids asks the guest in namespace <paramref name="ns"/> (else it answers the VMM pid alone).</summary>
    public static bool ListsGuest(this PidsSource source, string ns) => source switch
    {
        PidsSource.Guest => true,
        PidsSource.Vmm => false,
        _ => ns != DockerNamespace,
    };
}
