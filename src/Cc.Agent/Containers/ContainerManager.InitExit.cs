using Cc.Agent.Logging;

namespace Cc.Agent.Containers;

// What becomes of the rest of a container when its init exits.
public sealed partial class ContainerManager
{
    // The agent's own cgroup: a container found in it has no cgroup of its own (a host test with crun's cgroup manager
    // disabled), and killing it would kill us.
    private static readonly string? s_ownCgroup = ReadCgroupDirectory(Environment.ProcessId);

    // As runc's shim does (shouldKillAllOnExit), every process left in the container's cgroup is killed once its init
    // has exited. For a container without a pid namespace of its own (hostPID, or the pod's shared one) nothing else
    // would end them, and a child holding the container's stdout would keep its exit, which is reported once the
    // output has ended, from ever reaching containerd (critest "HostPID": StopContainer hung). A container with its
    // own pid namespace lost the rest with its init already; the kill then finds nothing.
    private void KillRestOfContainer(Container container)
    {
        if (container.CgroupDirectory is not { } cgroup || cgroup == s_ownCgroup)
        {
            return;
        }

        try
        {
            // cgroup v2 (Linux 5.14+): SIGKILL to every process of the cgroup and its descendants, race-free.
            File.WriteAllText(Path.Combine(cgroup, "cgroup.kill"), "1");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            AgentLog.ContainerWarning(_logger, container.Id, $"killing what is left of the container after its init: {e.Message}");
        }
    }
}
