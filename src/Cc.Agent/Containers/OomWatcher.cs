using System.Globalization;
using System.Threading.Channels;

namespace Cc.Agent.Containers;

// Watches the oom_kill counter of each container's memory cgroup (cgroup v2 `memory.events`, which
// counts the kills in the cgroup and below it) and queues the container id, with its kills since the
// watch began, once for every check that sees it rise; GetOomEvent hands the queue to the host.
//
// Polling, not inotify: a read of a cgroup file is cheap, the agent needs no inotify binding and no
// thread blocked in read(2), and the loop runs only while some container is watched. The period
// bounds the delay of an OOM kill that leaves the container running. The kill that ends a process
// is never later than its exit: the manager calls Check before it answers that process's WaitProcess
// and sends the count with the exit, so the host can publish the kill first even when the two answers
// cross on their way to it.
internal sealed class OomWatcher(TimeSpan period)
{
    // Enough for every container of a VM several times over; a host that stops asking loses the oldest.
    private const int QueueCapacity = 256;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Watched> _watched = new(StringComparer.Ordinal);
    private readonly Channel<OomKills> _kills = Channel.CreateBounded<OomKills>(
        new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest });
    private bool _polling;

    // Starts watching `memoryEvents` for container `id`; kills counted before now are not reported.
    public void Watch(string id, string memoryEvents)
    {
        var baseline = ReadOomKills(memoryEvents);
        var watched = new Watched(memoryEvents, baseline, baseline);
        bool start;
        lock (_lock)
        {
            _watched[id] = watched;
            start = !_polling;
            _polling = true;
        }

        if (start)
        {
            _ = Task.Run(PollAsync);
        }
    }

    public void Forget(string id)
    {
        lock (_lock)
        {
            _watched.Remove(id);
        }
    }

    // Reads the container's counter now, queues its id if it rose, and returns its kills since the watch
    // began (0 for a container not watched).
    public ulong Check(string id)
    {
        Watched? watched;
        lock (_lock)
        {
            watched = _watched.GetValueOrDefault(id);
        }

        return watched is null ? 0 : Check(id, watched);
    }

    // The next container with a new OOM kill; waits until there is one. A cancelled wait takes nothing.
    public ValueTask<OomKills> NextAsync(CancellationToken cancellationToken) => _kills.Reader.ReadAsync(cancellationToken);

    // The oom_kill line of a memory.events file; 0 when the file or the line is absent.
    internal static ulong ReadOomKills(string memoryEvents)
    {
        try
        {
            foreach (var line in File.ReadLines(memoryEvents))
            {
                if (line.StartsWith("oom_kill ", StringComparison.Ordinal) &&
                    ulong.TryParse(line.AsSpan(9), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
                {
                    return count;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // no memory controller, or the cgroup is gone with its container
        }

        return 0;
    }

    private ulong Check(string id, Watched watched)
    {
        var count = ReadOomKills(watched.Path);
        ulong since;
        lock (watched)
        {
            if (count <= watched.Count)
            {
                return watched.Count - watched.Baseline;
            }

            watched.Count = count;
            since = count - watched.Baseline;
            // Queued under the lock: two checks that both see rises queue their counts in increasing order.
            _kills.Writer.TryWrite(new OomKills(id, since));
        }

        return since;
    }

    private async Task PollAsync()
    {
        using var timer = new PeriodicTimer(period);
        while (await timer.WaitForNextTickAsync().ConfigureAwait(false))
        {
            KeyValuePair<string, Watched>[] snapshot;
            lock (_lock)
            {
                if (_watched.Count == 0)
                {
                    _polling = false;
                    return;
                }

                snapshot = [.. _watched];
            }

            foreach (var (id, watched) in snapshot)
            {
                Check(id, watched);
            }
        }
    }

    private sealed class Watched(string path, ulong baseline, ulong count)
    {
        public string Path { get; } = path;

        // The counter when the watch began: kills before it are not the container's to report.
        public ulong Baseline { get; } = baseline;

        // Guarded by the instance's own monitor: the poll loop and Check may race.
        public ulong Count { get; set; } = count;
    }
}

// A container's OOM kills since its watch began, as one check counted them.
public readonly record struct OomKills(string ContainerId, ulong Count);
