using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// `ctr events` read line by line as the lines arrive, each stamped with the host's monotonic clock on arrival. A test
/// awaits an event (topic + container id) as a signal instead of polling. <see cref="SubscribedAsync"/> proves the
/// subscription is live before the test causes the events it waits for: ctr prints nothing on its own, so it labels
/// the namespace and waits for containerd's own /namespaces/update.
/// </summary>
internal sealed partial class EventStream : IAsyncDisposable
{
    private readonly RunningProcess _ctr;
    private readonly ConcurrentDictionary<(string Topic, string Id), TaskCompletionSource<TimeSpan>> _seen = new();
    // The first line of each (topic, id), written before its slot completes: a caller that awaited the slot sees it.
    private readonly ConcurrentDictionary<(string Topic, string Id), string> _lines = new();
    private readonly Stopwatch _clock;
    private readonly PrivateContainerd _containerd;

    private EventStream(PrivateContainerd containerd, Stopwatch clock)
    {
        _containerd = containerd;
        _clock = clock;
        _ctr = containerd.StartCtr(["events"], ReadAsync);
    }

    /// <summary>Starts `ctr events` and returns once it provably receives events. Times are read from <paramref name="clock"/>.</summary>
    public static async Task<EventStream> SubscribeAsync(PrivateContainerd containerd, Stopwatch clock, CancellationToken cancellationToken)
    {
        var stream = new EventStream(containerd, clock);
        try
        {
            await stream.SubscribedAsync(cancellationToken);
            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// When (on the stream's clock) the line of <paramref name="topic"/> for container <paramref name="id"/> arrived. For
    /// /tasks/exit only the init's exit counts, not an exec's.
    /// </summary>
    public Task<TimeSpan> ArrivalAsync(string topic, string id) => Slot(topic, id).Task;

    /// <summary>The line of <paramref name="topic"/> for <paramref name="id"/> (its JSON carries e.g. exit_status), once arrived.</summary>
    public string? Line(string topic, string id) => _lines.GetValueOrDefault((topic, id));

    private async Task SubscribedAsync(CancellationToken cancellationToken)
    {
        var probe = "cc-events-probe-" + Guid.NewGuid().ToString("N")[..8];
        // A label change publishes /namespaces/update; repeated, because the first may precede the subscription.
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bound.CancelAfter(TimeSpan.FromSeconds(60));
        var seen = Slot("/namespaces/update", PrivateContainerd.Namespace).Task;
        for (var attempt = 0; !seen.IsCompleted; attempt++)
        {
            var label = await _containerd.CtrAsync(TimeSpan.FromSeconds(30), bound.Token,
                ["namespaces", "label", PrivateContainerd.Namespace, $"{probe}={attempt}"]);
            if (label.ExitCode != 0)
            {
                throw new InvalidOperationException($"could not label the namespace:\n{label.Describe()}");
            }
            await Task.WhenAny(seen, Task.Delay(TimeSpan.FromSeconds(1), bound.Token));
        }
        await _containerd.CtrAsync(TimeSpan.FromSeconds(30), bound.Token, ["namespaces", "label", PrivateContainerd.Namespace, $"{probe}="]);
    }

    private TaskCompletionSource<TimeSpan> Slot(string topic, string id) =>
        _seen.GetOrAdd((topic, id), _ => new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously));

    // ctr events prints "<time> <namespace> <topic> <json>" per event, e.g.
    // 2026-12-06 20:01:02.5 +0000 UTC cc-it /tasks/exit {"container_id":"x","id":"x","pid":1,"exit_status":0,...}
    private async Task ReadAsync(Stream stdout, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stdout);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            var now = _clock.Elapsed;
            var topic = Topic().Match(line);
            if (!topic.Success)
            {
                continue;
            }
            var name = topic.Groups[1].Value;
            var id = name == "/namespaces/update" ? NamespaceName().Match(line).Groups[1].Value : ContainerId().Match(line).Groups[1].Value;
            // An exec's exit carries the container's id too; its own "id" (the exec id) tells it from the init's.
            if (name == "/tasks/exit" && ProcessId().Match(line).Groups[1].Value != id)
            {
                continue;
            }
            if (id.Length > 0)
            {
                _lines.TryAdd((name, id), line);
                Slot(name, id).TrySetResult(now);
            }
        }
    }

    public async ValueTask DisposeAsync() => await _ctr.DisposeAsync();

    [GeneratedRegex(@" (/[a-z]+/[a-z-]+) ")]
    private static partial Regex Topic();

    [GeneratedRegex("\"container_id\":\"([^\"]+)\"")]
    private static partial Regex ContainerId();

    [GeneratedRegex("\"id\":\"([^\"]+)\"")]
    private static partial Regex ProcessId();

    [GeneratedRegex("\"name\":\"([^\"]+)\"")]
    private static partial Regex NamespaceName();

    internal static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture);
}
