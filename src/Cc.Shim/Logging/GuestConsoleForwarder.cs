using System.Text;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Logging;

/// <summary>
/// Follows the guest's <c>console.log</c> (QEMU appends the guest's ttyS0 to it; the agent logs on /dev/console) and
/// forwards each new line into the shim's log with its own source (<see cref="GuestLine"/>). Bounded so a chatty guest
/// cannot flood containerd's log: a line is cut at <see cref="MaxLineChars"/>, at most <see cref="MaxReadBytes"/> are
/// read per poll, a backlog beyond <see cref="MaxBacklogBytes"/> is skipped, and lines beyond a
/// <see cref="LineBudget"/> are counted instead of logged. The file itself keeps every line while the pod exists.
/// <para>
/// The loop runs outside the request that started it (no container or exec scope leaks into guest lines). It reads
/// <see cref="PollInterval"/> after a read that found new bytes, so lines of a burst reach containerd's log at most that
/// late; while the guest prints nothing the wait doubles up to <see cref="IdlePollInterval"/>, so an idle pod costs a
/// wake-up every few seconds instead of five a second, and the first line after a quiet spell is at most that late.
/// Dispose stops the loop after one last read, so the lines a dying guest printed are logged before the shim reports
/// why it died.
/// </para>
/// <para>
/// Not inotify: each shim would hold one inotify instance, and those are limited per user (fs.inotify.max_user_instances,
/// 128 by default) and shared with every other root process of the node (kubelet, containerd, systemd), so a node full
/// of pods would exhaust them. Not a pipe chardev: the guest's console output (printk included) would then wait on the
/// shim's reads whenever the shim falls behind, and the device would change QEMU's command line and so every template key.
/// </para>
/// </summary>
public sealed partial class GuestConsoleForwarder : IAsyncDisposable
{
    public const int MaxLineChars = 2048;
    public const int MaxReadBytes = 64 * 1024;
    public const long MaxBacklogBytes = 1024 * 1024;
    public const int DefaultBurst = 200;
    public const double DefaultLinesPerSecond = 50;
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>The longest wait between two reads: idle reads back off to it, doubling from <see cref="PollInterval"/>.</summary>
    public static readonly TimeSpan IdlePollInterval = TimeSpan.FromMilliseconds(3200);

    private readonly string _path;
    private readonly ILogger _logger;
    private readonly LineBudget _budget;
    private readonly List<byte> _partial = [];
    private readonly byte[] _buffer = new byte[MaxReadBytes];
    private readonly CancellationTokenSource _stop = new();
    private FileStream? _file;
    private long _position;
    private Task _loop = Task.CompletedTask;

    internal GuestConsoleForwarder(string path, ILogger logger, LineBudget budget)
    {
        _path = path;
        _logger = logger;
        _budget = budget;
    }

    /// <summary>Starts following <paramref name="path"/>, which may not exist yet (QEMU's driver creates it).</summary>
    public static GuestConsoleForwarder Start(string path, ILogger logger, TimeProvider time)
    {
        var forwarder = new GuestConsoleForwarder(path, logger, new LineBudget(DefaultBurst, DefaultLinesPerSecond, time));
        using (ExecutionContext.SuppressFlow())
        {
            forwarder._loop = Task.Run(() => forwarder.RunAsync(time));
        }
        return forwarder;
    }

    private async Task RunAsync(TimeProvider time)
    {
        var interval = PollInterval;
        try
        {
            while (true)
            {
                await Task.Delay(interval, time, _stop.Token).ConfigureAwait(false);
                interval = NextInterval(interval, Pump(final: false));
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped: one last read below.
        }
        Pump(final: true);
    }

    /// <summary>The wait before the next read: <see cref="PollInterval"/> after one that found bytes, else twice the last, up to <see cref="IdlePollInterval"/>.</summary>
    internal static TimeSpan NextInterval(TimeSpan current, bool readBytes) =>
        readBytes ? PollInterval : TimeSpan.FromTicks(Math.Min(current.Ticks * 2, IdlePollInterval.Ticks));

    /// <summary>
    /// Reads what was appended since the last call and logs its complete lines (<paramref name="final"/>: the partial
    /// last line too); true when it read any bytes. Single-threaded: only the loop calls it, or a test.
    /// </summary>
    internal bool Pump(bool final)
    {
        var read = false;
        try
        {
            if (_file is null && File.Exists(_path))
            {
                _file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            }
            if (_file is not null)
            {
                read = ReadAppended(_file) > 0;
            }
        }
        catch (IOException e)
        {
            Log.ReadFailed(_logger, _path, e.Message);
        }
        if (final && _partial.Count > 0)
        {
            Forward(TakePartial());
        }
        ReportDropped();
        return read;
    }

    /// <summary>Reads up to <see cref="MaxReadBytes"/> appended bytes and forwards their complete lines; the count read.</summary>
    private int ReadAppended(FileStream file)
    {
        var length = file.Length;
        if (length < _position)
        {
            // A new VM's log replaced the old one at the same path (truncated): start over.
            _position = 0;
            _partial.Clear();
        }
        if (length - _position > MaxBacklogBytes)
        {
            Log.BacklogSkipped(_logger, length - _position);
            _position = length;
            _partial.Clear();
        }
        file.Position = _position;
        var read = file.Read(_buffer, 0, _buffer.Length);
        _position += read;
        for (var i = 0; i < read; i++)
        {
            if (_buffer[i] == (byte)'\n')
            {
                Forward(TakePartial());
            }
            else if (_partial.Count < MaxLineChars * 4)
            {
                // Bytes past four times the character bound cannot survive the cut anyway.
                _partial.Add(_buffer[i]);
            }
        }
        return read;
    }

    private string TakePartial()
    {
        var text = Encoding.UTF8.GetString([.. _partial]);
        _partial.Clear();
        return text;
    }

    private void Forward(string raw)
    {
        if (GuestLine.Parse(raw) is not { } line || !_logger.IsEnabled(line.Level))
        {
            return;
        }
        if (!_budget.TryTake())
        {
            return;
        }
        ReportDropped();
        var text = line.Text.Length <= MaxLineChars
            ? line.Text
            : $"{line.Text[..MaxLineChars]}… ({line.Text.Length - MaxLineChars} more characters)";
        using (LogFields.BeginSource(line.Source))
        {
            Log.Line(_logger, line.Level, text);
        }
    }

    private void ReportDropped()
    {
        if (_budget.Dropped > 0 && _budget.TryTake(countDrop: false))
        {
            Log.Dropped(_logger, _budget.TakeDropped(), _budget.Burst, _budget.LinesPerSecond, _path);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        if (_budget.Dropped > 0)
        {
            Log.Dropped(_logger, _budget.TakeDropped(), _budget.Burst, _budget.LinesPerSecond, _path);
        }
        _file?.Dispose();
        _stop.Dispose();
    }

    private static partial class Log
    {
        // The guest's own line: its text is the message; the source field says whose it is.
        [LoggerMessage(EventId = 700, Message = "{Line}")]
        public static partial void Line(ILogger logger, LogLevel level, string line);

        [LoggerMessage(EventId = 701, Level = LogLevel.Warning,
            Message = "Guest console: {Dropped} lines not logged (more than {Burst} at once or {Rate} per second); {Path} has them all")]
        public static partial void Dropped(ILogger logger, long dropped, int burst, double rate, string path);

        [LoggerMessage(EventId = 702, Level = LogLevel.Warning,
            Message = "Guest console: {Bytes} bytes skipped (the guest wrote faster than they can be logged)")]
        public static partial void BacklogSkipped(ILogger logger, long bytes);

        [LoggerMessage(EventId = 703, Level = LogLevel.Debug, Message = "Guest console {Path} cannot be read: {Error}")]
        public static partial void ReadFailed(ILogger logger, string path, string error);
    }
}
