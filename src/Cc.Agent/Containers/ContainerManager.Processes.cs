using Cc.Agent.Native;
using Cc.Agent.Processes;

namespace Cc.Agent.Containers;

// Per-process operations: signals, waits and stdio. A process is (container id, exec id); the empty
// exec id is the init.
public sealed partial class ContainerManager
{
    public const int MaxReadBytes = 1024 * 1024;

    public enum OutputStream
    {
        Stdout,
        Stderr,
    }

    public async Task SignalAsync(string id, string execId, int signal, bool all, CancellationToken cancellationToken)
    {
        if (signal is <= 0 or > 64)
        {
            throw AgentErrorException.Invalid($"signal {signal} is not valid");
        }

        var container = Get(id);
        var process = GetProcess(container, execId);
        if (all)
        {
            if (execId.Length != 0)
            {
                throw AgentErrorException.Invalid("all applies to the init process only (exec id must be empty)");
            }

            await SignalAllAsync(container, signal, cancellationToken).ConfigureAwait(false);
            return;
        }

        // An exited process may have been reaped and its pid reused: never signal it.
        if (process.HasExited || LibC.kill(process.Pid, signal) != 0 && LibC.LastError == LibC.ESRCH)
        {
            throw AgentErrorException.NotFound($"process {Name(id, execId)} already finished");
        }
    }

    // The exit status (its pid, and the container's OOM kills so far) once the process has exited
    // and its output has been read to the end; waits as long as that takes. Any number of waiters;
    // repeatable after the exit.
    public async Task<(ExitStatus Status, int Pid, ulong OomKills)> WaitAsync(string id, string execId,
        CancellationToken cancellationToken)
    {
        var process = GetProcess(Get(id), execId);
        var status = await process.WaitAsync(cancellationToken).ConfigureAwait(false);
        // Read after the exit: a kill that ended the process is counted here, and queued no later (OomWatcher).
        var oomKills = _oom.Check(id);
        return (status, process.Pid, oomKills);
    }

    // The bytes come from `Source`; give them back to it (OutputPump.Return) once the answer that carries them is written.
    internal async ValueTask<(ReadOnlyMemory<byte> Data, OutputPump Source)> ReadAsync(string id, string execId, OutputStream stream,
        int maxBytes, CancellationToken cancellationToken)
    {
        if (maxBytes is <= 0 or > MaxReadBytes)
        {
            throw AgentErrorException.Invalid($"max_bytes {maxBytes} is outside 1..{MaxReadBytes}");
        }

        var process = GetProcess(Get(id), execId);
        var pump = stream == OutputStream.Stdout ? process.Io.Stdout : process.Io.Stderr;
        return (await pump.ReadAsync(maxBytes, cancellationToken).ConfigureAwait(false), pump);
    }

    public async Task<int> WriteStdinAsync(string id, string execId, ReadOnlyMemory<byte> data,
        CancellationToken cancellationToken)
    {
        var process = GetProcess(Get(id), execId);
        try
        {
            return await process.Io.WriteStdinAsync(data, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            throw AgentErrorException.Precondition($"process {Name(id, execId)}: {e.Message}");
        }
        catch (IOException e)
        {
            // EPIPE: the process has closed its stdin or exited (.NET ignores SIGPIPE).
            throw AgentErrorException.Precondition($"process {Name(id, execId)} no longer reads stdin: {e.Message}");
        }
    }

    public async Task CloseStdinAsync(string id, string execId, CancellationToken cancellationToken)
    {
        var process = GetProcess(Get(id), execId);
        try
        {
            await process.Io.CloseStdinAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // the terminal is gone: its stdin is closed in every sense that matters
        }
    }

    public void ResizePty(string id, string execId, uint columns, uint rows)
    {
        if (columns is 0 or > ushort.MaxValue || rows is 0 or > ushort.MaxValue)
        {
            throw AgentErrorException.Invalid($"terminal size {columns}x{rows} is not valid");
        }

        var process = GetProcess(Get(id), execId);
        if (!process.Io.IsTerminal)
        {
            throw AgentErrorException.Precondition($"process {Name(id, execId)} has no terminal");
        }

        try
        {
            process.Io.Resize((ushort)columns, (ushort)rows);
        }
        catch (IOException e)
        {
            throw AgentErrorException.Precondition($"process {Name(id, execId)}: {e.Message}");
        }
    }

    private static ContainerProcess GetProcess(Container container, string execId)
    {
        lock (container.Lock)
        {
            if (execId.Length == 0)
            {
                return container.Init ?? throw AgentErrorException.NotFound($"container {container.Id} is still being created");
            }

            return container.FindExec(execId)
                ?? throw AgentErrorException.NotFound($"process {execId} does not exist in container {container.Id}");
        }
    }

    // Every process of the container. With its own pid namespace the container's processes are the
    // ones in that namespace; otherwise the runtime knows them from the cgroup.
    private async Task SignalAllAsync(Container container, int signal, CancellationToken cancellationToken)
    {
        var pids = await ContainerPidsAsync(container, cancellationToken).ConfigureAwait(false);
        if (pids.Count == 0)
        {
            throw AgentErrorException.NotFound($"container {container.Id} has no process left");
        }

        foreach (var pid in pids)
        {
            LibC.kill(pid, signal);
        }
    }

    private static string Name(string id, string execId) => execId.Length == 0 ? id : $"{id}/{execId}";
}
