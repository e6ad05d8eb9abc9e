using Cc.Agent.Processes;

namespace Cc.Agent.Containers;

// One process the agent started in a container: the init (ExecId "") or an exec.
internal sealed class ContainerProcess(string execId, int pid, ProcessIo io, Task<ExitStatus> exited)
{
    public string ExecId { get; } = execId;
    public int Pid { get; } = pid;
    public ProcessIo Io { get; } = io;
    public Task<ExitStatus> Exited { get; } = exited;
    public bool HasExited => Exited.IsCompleted;

    // The exit, reported only once both output streams have reached their end, so that the host,
    // which reads stdout/stderr to EOF before it asks, never loses the tail of the output.
    public async Task<ExitStatus> WaitAsync(CancellationToken cancellationToken)
    {
        var status = await Exited.WaitAsync(cancellationToken).ConfigureAwait(false);
        await Io.Drained.WaitAsync(cancellationToken).ConfigureAwait(false);
        return status;
    }
}
