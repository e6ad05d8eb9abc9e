using System.Globalization;
using System.Text.Json;

namespace Cc.Agent.Containers;

// What the host asks about a container: its processes, its cgroup numbers; and freezing it.
public sealed partial class ContainerManager
{
    private static readonly string? s_ownPidNamespace = ReadPidNamespace(Environment.ProcessId);

    public readonly record struct ProcessEntry(int Pid, string CommandLine, string ExecId);

    public sealed record CgroupStats(ulong CpuUsageUsec, ulong CpuUserUsec, ulong CpuSystemUsec,
        ulong MemoryCurrent, ulong MemoryMax, ulong PidsCurrent)
    {
        public ulong PidsMax { get; init; }
        public ulong SwapCurrent { get; init; }
        public ulong SwapMax { get; init; }

        // The keyed files as the kernel writes them (name → value); empty when the file is absent.
        public IReadOnlyDictionary<string, ulong> CpuStat { get; init; } = new Dictionary<string, ulong>();
        public IReadOnlyDictionary<string, ulong> MemoryStat { get; init; } = new Dictionary<string, ulong>();
        public IReadOnlyDictionary<string, ulong> MemoryEvents { get; init; } = new Dictionary<string, ulong>();
    }

    public async Task<IReadOnlyList<ProcessEntry>> ListProcessesAsync(string id, CancellationToken cancellationToken)
    {
        var container = Get(id);
        var pids = await ContainerPidsAsync(container, cancellationToken).ConfigureAwait(false);
        Dictionary<int, string> execIds;
        lock (container.Lock)
        {
            execIds = container.Execs.Where(e => !e.HasExited).ToDictionary(e => e.Pid, e => e.ExecId);
        }

        return pids.Order()
            .Select(pid => new ProcessEntry(pid, ReadCommandLine(pid), execIds.GetValueOrDefault(pid, "")))
            .ToList();
    }

    public Task PauseAsync(string id, CancellationToken cancellationToken) =>
        FreezeAsync(id, "pause", ContainerState.Running, ContainerState.Paused, cancellationToken);

    public Task ResumeAsync(string id, CancellationToken cancellationToken) =>
        FreezeAsync(id, "resume", ContainerState.Paused, ContainerState.Running, cancellationToken);

    // cgroup v2 numbers of the init's cgroup (/proc/<pid>/cgroup "0::<path>", read at creation).
    public CgroupStats Stats(string id)
    {
        var container = Get(id);
        var init = container.Init;
        if (init is null || init.HasExited)
        {
            throw AgentErrorException.NotFound($"container {id} has no running init process");
        }

        var dir = container.CgroupDirectory
            ?? throw AgentErrorException.NotFound($"container {id} is not in a cgroup v2 hierarchy");
        var cpu = ReadKeyed(Path.Combine(dir, "cpu.stat"));
        return new CgroupStats(
            cpu.GetValueOrDefault("usage_usec"), cpu.GetValueOrDefault("user_usec"), cpu.GetValueOrDefault("system_usec"),
            ReadNumber(Path.Combine(dir, "memory.current")), ReadNumber(Path.Combine(dir, "memory.max")),
            ReadNumber(Path.Combine(dir, "pids.current")))
        {
            PidsMax = ReadNumber(Path.Combine(dir, "pids.max")),
            SwapCurrent = ReadNumber(Path.Combine(dir, "memory.swap.current")),
            SwapMax = ReadNumber(Path.Combine(dir, "memory.swap.max")),
            CpuStat = cpu,
            MemoryStat = ReadKeyed(Path.Combine(dir, "memory.stat")),
            MemoryEvents = ReadKeyed(Path.Combine(dir, "memory.events")),
        };
    }

    private async Task FreezeAsync(string id, string command, ContainerState from, ContainerState to,
        CancellationToken cancellationToken)
    {
        var container = Get(id);
        lock (container.Lock)
        {
            if (container.State != from)
            {
                // The table allows neither Paused => Paused nor Running => Running: the one transition error.
                ContainerStateMachine.Check(container.State, to, id);
                throw AgentErrorException.Precondition($"container {id} cannot {command}: it is {Describe(container.State)}");
            }
        }

        await _crun.RunAsync(container.Bundle, [command, id], null, cancellationToken).ConfigureAwait(false);
        lock (container.Lock)
        {
            // The init may have exited meanwhile (Stopped): then the pause or resume has nothing left to change.
            if (container.State == from)
            {
                container.MoveTo(to);
            }
        }
    }

    private async Task<IReadOnlyList<int>> ContainerPidsAsync(Container container, CancellationToken cancellationToken)
    {
        var init = container.Init;
        if (init is null || init.HasExited)
        {
            return [];
        }

        if (container.PidNamespace is { } ns && ns != s_ownPidNamespace)
        {
            return ScanPidNamespace(ns);
        }

        // Shares our pid namespace: only the runtime (through the cgroup) can tell its processes.
        var json = await _crun.RunAsync(container.Bundle, ["ps", "--format", "json", container.Id], null, cancellationToken)
            .ConfigureAwait(false);
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray().Select(e => e.GetInt32()).ToList();
    }

    private static List<int> ScanPidNamespace(string ns)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) &&
                ReadPidNamespace(pid) == ns)
            {
                pids.Add(pid);
            }
        }

        return pids;
    }

    // "/sys/fs/cgroup" + the path of the "0::" line of /proc/<pid>/cgroup; null when there is none.
    private static string? ReadCgroupDirectory(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/cgroup").FirstOrDefault(l => l.StartsWith("0::", StringComparison.Ordinal));
            return line is null ? null : "/sys/fs/cgroup" + line[3..].TrimEnd('/');
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string ReadCommandLine(int pid)
    {
        try
        {
            var raw = File.ReadAllBytes($"/proc/{pid}/cmdline");
            return System.Text.Encoding.UTF8.GetString(raw).TrimEnd('\0').Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static Dictionary<string, ulong> ReadKeyed(string path)
    {
        var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return values;
        }

        foreach (var line in File.ReadAllLines(path))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length == 2 && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                values[parts[0]] = value;
            }
        }

        return values;
    }

    // 0 when absent; "max" (no limit) reads as ulong.MaxValue.
    private static ulong ReadNumber(string path)
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        var text = File.ReadAllText(path).Trim();
        return text == "max" ? ulong.MaxValue
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;
    }
}
