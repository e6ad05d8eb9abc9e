using System.Globalization;
using System.Threading.Channels;

namespace Cc.Agent.Containers;

// Watches the oom_kill counter of each container's memory cgroup (cgroup v2 `memory.events`, which
// counts the kills in the cgroup and below it) and queues the container id once for every check that
// sees it rise; GetOomEvent hands the queue to the host.
//
// Polling, not inotify: a read of a cgroup file is cheap, the agent needs no inotify binding and no
// thread blocked in read(2), and the loop runs only while some container is watched. The period
// bounds the delay of an OOM kill that leaves the container running. The kill that ends a process
// is never later than its exit: the manager calls Check before it answers that process's WaitProcess,
// so the id is queued first (the two answers may still cross on their way to the host).
internal sealed class OomWatcher(TimeSpan period)
{
    // Enough for every container of a VM several times over; a host that stops asking loses the oldest.
    private const int QueueCapacity = 256;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, Watched> _watched = new(StringComparer.Ordinal);
    private readonly Channel<string> _kills = Channel.CreateBounded<string>(
        new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest });
    private bool _polling;

    // Starts watching `memoryEvents` for container `id`; kills counted before now are not reported.
    public void Watch(string id, string memoryEvents)
    {
        var watched = new Watched(memoryEvents, ReadOomKills(memoryEvents));
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

    // Reads the container's counter now and queues its id if it rose.
    public void Check(string id)
    {
        Watched? watched;
        lock (_lock)
        {
            watched = _watched.GetValueOrDefault(id);
        }

        if (watched is not null)
        {
            Check(id, watched);
        }
    }

    // The next container with a new OOM kill; waits until there is one. A cancelled wait takes nothing.
    public ValueTask<string> NextAsync(CancellationToken cancellationToken) => _kills.Reader.ReadAsync(cancellationToken);

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

    private void Check(string id, Watched watched)
    {
        var count = ReadOomKills(watched.Path);
        lock (watched)
        {
            if (count <= watched.Count)
            {
                return;
            }

            watched.Count = count;
        }

        _kills.Writer.TryWrite(id);
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

    private sealed class Watched(string path, ulong count)
    {
        public string Path { get; } = path;

        // Guarded by the instance's own monitor: the poll loop and Check may race.
        public ulong Count { get; set; } = count;
    }
}
