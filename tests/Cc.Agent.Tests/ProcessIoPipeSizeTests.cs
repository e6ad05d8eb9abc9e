using Cc.Agent.Native;
using Cc.Agent.Processes;

namespace Cc.Agent.Tests;

/// <summary>
/// A process's stdout and stderr pipes hold one pump read (1 MiB), so that a process writing in large blocks wakes the
/// pump once per megabyte instead of once per 64 KiB (the default pipe), each wake-up being emulated work under TCG.
/// </summary>
public sealed class ProcessIoPipeSizeTests
{
    private const int F_GETPIPE_SZ = 1032;

    [Fact]
    public void The_output_pipes_of_a_process_hold_one_pump_read()
    {
        using var io = ProcessIo.CreatePipes(stdin: false);
        try
        {
            var fds = io.ChildFds; // stdin (/dev/null), stdout's write end, stderr's write end

            LibC.fcntl(fds[1], F_GETPIPE_SZ, 0).ShouldBeGreaterThanOrEqualTo(OutputPump.ReadSize);
            LibC.fcntl(fds[2], F_GETPIPE_SZ, 0).ShouldBeGreaterThanOrEqualTo(OutputPump.ReadSize);
        }
        finally
        {
            io.ReleaseChildEnds(); // the pumps see end of file and finish
        }
    }
}
