namespace Cc.Agent.Containers;

// A container in the guest: its bundle, its init and its execs. `Lock` guards State and Execs;
// Init is set once, when creation succeeds.
internal sealed class Container(string id, string bundle)
{
    private readonly Dictionary<string, ContainerProcess?> _execs = new(StringComparer.Ordinal);

    public string Id { get; } = id;
    public string Bundle { get; } = bundle;
    public object Lock { get; } = new();
    // Changes only through MoveTo (ContainerStateMachine). Caller holds Lock.
    public ContainerState State { get; private set; } = ContainerState.Creating;
    public ContainerProcess? Init { get; set; }

    // What the container is in its pod; set at creation, never changed.
    public PodRole Role { get; init; }

    // The pid namespace of the init (readlink /proc/<pid>/ns/pid), read once the init exists.
    public string? PidNamespace { get; set; }

    // The init's cgroup v2 directory under /sys/fs/cgroup, read once the init exists (the cgroup
    // outlives the init until the container is deleted); null outside a cgroup v2 hierarchy.
    public string? CgroupDirectory { get; set; }

    // Moves to `to` or throws the one invalid-transition error. Caller holds Lock.
    public void MoveTo(ContainerState to)
    {
        ContainerStateMachine.Check(State, to, Id);
        State = to;
    }

    // Reserves an exec id before the process exists, so two concurrent ExecProcess calls with the
    // same id cannot both start one. Caller holds Lock.
    public bool TryReserveExec(string execId) => _execs.TryAdd(execId, null);

    public void CompleteExec(string execId, ContainerProcess process) => _execs[execId] = process;

    public void ReleaseExec(string execId) => _execs.Remove(execId);

    public ContainerProcess? FindExec(string execId) =>
        _execs.TryGetValue(execId, out var process) ? process : null;

    public IReadOnlyList<ContainerProcess> Execs => _execs.Values.OfType<ContainerProcess>().ToList();
}
