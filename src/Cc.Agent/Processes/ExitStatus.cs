namespace Cc.Agent.Processes;

// How a process ended, in the form containerd reports it: the exit code, or 128 + signal for a
// process killed by a signal (SIGKILL = 137).
public readonly record struct ExitStatus(int Code, DateTimeOffset ExitedAt)
{
    // Decodes a waitpid status word: low 7 bits = terminating signal (0 = normal exit), bits 8..15
    // = exit code.
    public static ExitStatus FromWaitStatus(int status, DateTimeOffset exitedAt)
    {
        var signal = status & 0x7f;
        return signal == 0
            ? new ExitStatus((status >> 8) & 0xff, exitedAt)
            : new ExitStatus(128 + signal, exitedAt);
    }
}
