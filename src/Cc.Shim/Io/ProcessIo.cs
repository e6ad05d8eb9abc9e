using Cc.Hypervisor.Native;
using Cc.Shim.Sandbox;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Cc.Shim.Io;

/// <summary>
/// The host side of one guest process's stdio: copies the guest's stdout/stderr into the client's FIFOs or file, and
/// the client's stdin FIFO into the guest. Output is pulled from the guest only as fast as the host sink takes it.
/// </summary>
public sealed partial class ProcessIo : IAsyncDisposable
{
    private const int StdinBufferSize = 32 * 1024;

    private readonly ProcessKey _process;
    private readonly IGuestStdio _guest;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _disposeLock = new();
    private Task? _disposal; // guarded by _disposeLock
    private readonly List<Stream> _sinks = [];
    private readonly HashSet<Stream> _closeAtEnd = [];
    private BinaryLogger? _binaryLogger;
    private readonly string? _stdinFifo;
    private Task _stdout = Task.CompletedTask;
    private Task _stderr = Task.CompletedTask;
    private Task _stdin = Task.CompletedTask;
    private int _stdinClosed;

    private ProcessIo(ProcessKey process, IGuestStdio guest, ILogger logger, string? stdinFifo)
    {
        _process = process;
        _guest = guest;
        _log = logger;
        _stdinFifo = stdinFifo;
    }

    /// <summary>Completes when stdout and stderr have reached end of stream (or were never connected).</summary>
    public Task OutputDrained => Task.WhenAll(_stdout, _stderr);

    /// <summary>
    /// Opens the host ends and starts copying. Output FIFOs are opened read-write so they never see EPIPE while the
    /// client is away (a containerd restart) — pitfall 14. With a terminal, the single pty stream goes to stdout and
    /// stderr is left alone even when a FIFO is named. A <c>binary://</c> stdout starts its logger and returns only
    /// once the logger is ready (protocol.md §3.7.2).
    /// </summary>
    /// <summary>
    /// Refuses a FIFO the client named but that is not there (removed, or its directory gone) before anything is made
    /// for the process: runc's shim fails Create/Exec the same way when it opens them. A FIFO that vanishes after this
    /// check fails the open in <see cref="StartAsync"/>, and the caller undoes what it made.
    /// </summary>
    public static void CheckClientFifosExist(StdioSpec spec)
    {
        Check("stdin", spec.Stdin);
        Check("stdout", spec.Stdout);
        if (!spec.Terminal)
        {
            Check("stderr", spec.Stderr);
        }

        static void Check(string stream, string value)
        {
            if (StdioTarget.Parse(value) is StdioTarget.Fifo fifo && !Path.Exists(fifo.Path))
            {
                throw new InvalidRequestException($"{stream} FIFO {fifo.Path} does not exist: the client's end of the stdio is gone");
            }
        }
    }

    public static async Task<ProcessIo> StartAsync(ProcessKey process, StdioSpec spec, IGuestStdio guest, string ns,
        ILogger logger, CancellationToken cancellationToken, BinaryLoggerTimeouts? loggerTimeouts = null)
    {
        var stdin = StdioTarget.Parse(spec.Stdin);
        var stdout = StdioTarget.Parse(spec.Stdout);
        var stderr = spec.Terminal ? new StdioTarget.None() : StdioTarget.Parse(spec.Stderr);
        if (stdin is not (StdioTarget.None or StdioTarget.Fifo))
        {
            throw new InvalidRequestException($"stdin must be a FIFO path, got {spec.Stdin}");
        }
        CheckBinaryPairing(spec, stdout, stderr);

        var io = new ProcessIo(process, guest, logger, (stdin as StdioTarget.Fifo)?.Path);
        try
        {
            Stream? outSink, errSink;
            if (stdout is StdioTarget.Binary binary)
            {
                // One logger takes both streams (runc: the stdout URI decides). Its pipes are closed as soon as their
                // stream ends, so the logger sees end-of-file without waiting for Delete; a stream that is not
                // connected (a terminal's stderr) is closed at once.
                io._binaryLogger = await BinaryLogger.StartAsync(binary, process.ContainerId, ns,
                    loggerTimeouts ?? BinaryLoggerTimeouts.Default, logger, cancellationToken).ConfigureAwait(false);
                outSink = io._binaryLogger.Stdout;
                errSink = stderr is StdioTarget.None ? null : io._binaryLogger.Stderr;
                if (errSink is null)
                {
                    await io._binaryLogger.Stderr.DisposeAsync().ConfigureAwait(false);
                }
                io._closeAtEnd.Add(io._binaryLogger.Stdout);
                io._closeAtEnd.Add(io._binaryLogger.Stderr);
            }
            else
            {
                outSink = io.OpenSink(stdout);
                // file:// names one file for both streams (runc appends both to it); share the stream.
                errSink = stderr is StdioTarget.File f && stdout is StdioTarget.File g && f.Path == g.Path
                    ? outSink
                    : io.OpenSink(stderr);
            }
            // The pumps outlive the Create/Exec that starts them: their stdin writes must not carry its deadline.
            CallerDeadline.Detach();
            if (outSink is not null)
            {
                io._stdout = io.PumpOutputAsync(StdioStream.Stdout, outSink);
            }
            if (errSink is not null)
            {
                io._stderr = io.PumpOutputAsync(StdioStream.Stderr, errSink);
            }
            if (io._stdinFifo is not null)
            {
                io._stdin = io.PumpStdinAsync(io._stdinFifo);
            }
            return io;
        }
        catch
        {
            io._stop.Cancel();
            foreach (var sink in io._sinks)
            {
                sink.Dispose();
            }
            if (io._binaryLogger is { } started)
            {
                await started.DisposeAsync().ConfigureAwait(false);
            }
            throw;
        }
    }

    /// <summary>
    /// A logger takes stdout and stderr together: stderr may name the same URI or nothing, never something else, and
    /// a <c>binary://</c> stderr without the same stdout has no logger to go to.
    /// </summary>
    private static void CheckBinaryPairing(StdioSpec spec, StdioTarget stdout, StdioTarget stderr)
    {
        if (stdout is StdioTarget.Binary && stderr is not StdioTarget.None && spec.Stderr != spec.Stdout)
        {
            throw new InvalidRequestException(
                $"stderr must name the same binary logger as stdout or nothing, got stdout {spec.Stdout} and stderr {spec.Stderr}");
        }
        if (stderr is StdioTarget.Binary && stdout is not StdioTarget.Binary)
        {
            throw new InvalidRequestException($"a binary:// stderr needs the same binary:// stdout, got stdout \"{spec.Stdout}\"");
        }
    }

    /// <summary>
    /// CloseIO: forward what the client already wrote, then close the guest's stdin. If the client never opened its
    /// end, the pending open is released so the pump ends.
    /// </summary>
    public async Task CloseStdinAsync(CancellationToken cancellationToken)
    {
        if (_stdinFifo is not null && !_stdin.IsCompleted)
        {
            ReleasePendingOpen(_stdinFifo);
            await _stdin.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        }
        await CloseGuestStdinOnceAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Idempotent: a dead VM's clean-up and the later Delete both dispose; both await the same disposal.</summary>
    public ValueTask DisposeAsync()
    {
        lock (_disposeLock)
        {
            _disposal ??= DisposeCoreAsync();
            return new ValueTask(_disposal);
        }
    }

    private async Task DisposeCoreAsync()
    {
        await Task.Yield(); // run the disposal outside _disposeLock
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_stdinFifo is not null && !_stdin.IsCompleted)
        {
            ReleasePendingOpen(_stdinFifo);
        }
        // The stdin pump is not awaited: a read of a FIFO whose writer the client keeps open cannot be cancelled, and
        // Delete must not wait for the client. It ends when the writer closes; its writes then fail against the
        // cancelled token. Output pumps are normally done (the process exited and drained) — bounded regardless.
        try
        {
            await Task.WhenAll(_stdout, _stderr).WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A pump blocked on a FIFO nobody reads; disposing the sinks below ends it.
        }
        foreach (var sink in _sinks.Distinct())
        {
            await sink.DisposeAsync().ConfigureAwait(false);
        }
        if (_binaryLogger is not null)
        {
            // Closes the pipes (if the pumps have not), then lets the logger finish, escalating to signals; reaps it.
            await _binaryLogger.DisposeAsync().ConfigureAwait(false);
        }
    }

    private Stream? OpenSink(StdioTarget target)
    {
        Stream? stream = target switch
        {
            StdioTarget.None => null,
            StdioTarget.Fifo fifo => CloseAtEnd(new FileStream(OpenFifoReadWrite(fifo.Path), FileAccess.Write, bufferSize: 0)),
            StdioTarget.File file => OpenAppend(file.Path),
            _ => throw new UnsupportedException($"stdio target {target} is not supported"),
        };
        if (stream is not null)
        {
            _sinks.Add(stream);
        }
        return stream;
    }

    private FileStream CloseAtEnd(FileStream stream)
    {
        _closeAtEnd.Add(stream);
        return stream;
    }

    private static SafeFileHandle OpenFifoReadWrite(string path)
    {
        var fd = LibC.open(path, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
        if (fd < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new InvalidRequestException($"open stdio FIFO {path}: {LibC.ErrorText(errno)}");
        }
        return new SafeFileHandle(fd, ownsHandle: true);
    }

    private static FileStream OpenAppend(string path)
    {
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }
        // 0644 like the runc shim's log files; O_APPEND so several writers (stdout, stderr, a restart) interleave safely.
        var fd = LibC.open(path, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_APPEND | LibC.O_CLOEXEC, Convert.ToInt32("644", 8));
        if (fd < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw new InvalidRequestException($"open stdio file {path}: {LibC.ErrorText(errno)}");
        }
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
    }

    /// <summary>
    /// Copies one output stream into its sink. Each read asks the guest for up to <see cref="IGuestStdio.MaxReadBytes"/>,
    /// so that one agent round trip carries all the guest has buffered; and the next read is under way while the last one
    /// is written out, so that the round trip overlaps the sink's write. At most one read is in flight and one is being
    /// written: the shim holds at most two reads of a stream, and the guest is asked for more only once the read before
    /// the last is in the sink (the back-pressure, together with the agent's bounded buffer).
    /// </summary>
    private async Task PumpOutputAsync(StdioStream stream, Stream sink)
    {
        Task<ReadOnlyMemory<byte>>? next = null;
        try
        {
            next = _guest.ReadAsync(_process, stream, IGuestStdio.MaxReadBytes, _stop.Token);
            while (true)
            {
                var data = await next.ConfigureAwait(false);
                next = null;
                if (data.IsEmpty)
                {
                    break;
                }
                next = _guest.ReadAsync(_process, stream, IGuestStdio.MaxReadBytes, _stop.Token);
                await sink.WriteAsync(data, _stop.Token).ConfigureAwait(false);
            }
            await sink.FlushAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Log.OutputCopyFailed(_log, e, _process.ToString(), stream.ToString());
        }
        finally
        {
            // A read still in flight when the sink failed: its bytes have nowhere to go; observe its end, whatever it is.
            next?.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            // A logger's pipe or a FIFO: nothing more will come, so the reader must see end-of-file now. containerd's
            // CRI reads an exec's FIFOs to end-of-file before it answers ExecSync or ends a streaming exec, so holding
            // the FIFO until Delete would hang every exec (the runc shim closes its ends here too). The reader opened
            // its end before Create/Exec (containerd's cio does), so what the FIFO buffers stays readable; a file://
            // sink is shared by both streams and stays open until Dispose.
            if (_closeAtEnd.Contains(sink))
            {
                await sink.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task PumpStdinAsync(string fifo)
    {
        var buffer = new byte[StdinBufferSize];
        try
        {
            // A blocking open waits for the client's writer; a read before that would see end of file.
            using var handle = await Task.Run(() => File.OpenHandle(fifo, FileMode.Open, FileAccess.Read), _stop.Token)
                .ConfigureAwait(false);
            await using var source = new FileStream(handle, FileAccess.Read, bufferSize: 0);
            while (true)
            {
                var n = await source.ReadAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                await _guest.WriteStdinAsync(_process, buffer.AsMemory(0, n), _stop.Token).ConfigureAwait(false);
            }
            await CloseGuestStdinOnceAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Disposed (the process was deleted): the client may already have removed its FIFO; nothing to report.
        }
        catch (Exception e)
        {
            Log.StdinCopyFailed(_log, e, _process.ToString());
        }
    }

    private async Task CloseGuestStdinOnceAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stdinClosed, 1) == 0)
        {
            await _guest.CloseStdinAsync(_process, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A reader blocked in open() of a FIFO is released by any writer: open and close a non-blocking write end, which
    /// the reader then sees as end of file.
    /// </summary>
    private static void ReleasePendingOpen(string fifo)
    {
        var fd = LibC.open(fifo, LibC.O_WRONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC, 0);
        if (fd >= 0)
        {
            LibC.close(fd);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "Copying {Stream} of {Process} failed")]
        public static partial void OutputCopyFailed(ILogger logger, Exception e, string process, string stream);

        [LoggerMessage(EventId = 301, Level = LogLevel.Warning, Message = "Copying stdin of {Process} failed")]
        public static partial void StdinCopyFailed(ILogger logger, Exception e, string process);
    }
}
