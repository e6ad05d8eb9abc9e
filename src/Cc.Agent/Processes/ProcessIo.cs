using Cc.Agent.Native;
using Microsoft.Win32.SafeHandles;

namespace Cc.Agent.Processes;

// The agent's ends of one process's stdio: pipes, or the pty master for a terminal process.
// Before the spawn, ChildFds are what the runtime (crun) gets as its fds 0..2 and passes on to the
// process; ReleaseChildEnds closes our copies afterwards so EOF reaches us when the process closes
// its last copy.
internal sealed class ProcessIo : IDisposable
{
    private readonly SemaphoreSlim _stdinLock = new(1, 1);
    private readonly SafeFileHandle[] _childEnds;
    private readonly SafeFileHandle? _ptyMaster;
    private FileStream? _stdin;

    private ProcessIo(OutputPump stdout, OutputPump stderr, FileStream? stdin, SafeFileHandle[] childEnds,
        SafeFileHandle? ptyMaster)
    {
        Stdout = stdout;
        Stderr = stderr;
        _stdin = stdin;
        _childEnds = childEnds;
        _ptyMaster = ptyMaster;
    }

    public OutputPump Stdout { get; }
    public OutputPump Stderr { get; }
    public bool IsTerminal => _ptyMaster is not null;

    public int[] ChildFds => _childEnds.Select(Fd.Raw).ToArray();

    // Both output streams read to their end: everything the process wrote is buffered here.
    public Task Drained => Task.WhenAll(Stdout.EndOfInput, Stderr.EndOfInput);

    // Pipes for a process without a terminal; stdin is /dev/null unless `stdin`.
    public static ProcessIo CreatePipes(bool stdin)
    {
        var (outRead, outWrite) = Fd.CreatePipe();
        var (errRead, errWrite) = Fd.CreatePipe();
        // A process that writes in large blocks (dd bs=1M, a log dump) fills a default 64 KiB pipe sixteen times per
        // megabyte, and each time it and the pump switch places: under TCG every switch is emulated guest work. With
        // the pipe as large as one pump read, a 1 MiB write is one wake-up and one read(2). The kernel allocates the
        // pipe's pages as they fill, so an idle or chatty stream costs no more than before.
        Fd.TryGrowPipe(outWrite, OutputPump.ReadSize);
        Fd.TryGrowPipe(errWrite, OutputPump.ReadSize);
        SafeFileHandle inChild;
        FileStream? inOurs = null;
        if (stdin)
        {
            var (inRead, inWrite) = Fd.CreatePipe();
            inChild = inRead;
            inOurs = new FileStream(inWrite, FileAccess.Write, bufferSize: 0);
        }
        else
        {
            inChild = Fd.OpenDevNull(FileAccess.Read);
        }

        return new ProcessIo(OutputPump.Start(outRead), OutputPump.Start(errRead), inOurs,
            [inChild, outWrite, errWrite], null);
    }

    // Stdio for the runtime itself while it sets up a terminal process: /dev/null everywhere (its
    // errors go to its log file). Call AttachTerminal with the master it sends.
    public static SafeFileHandle[] RuntimeNullStdio() =>
        [Fd.OpenDevNull(FileAccess.Read), Fd.OpenDevNull(FileAccess.Write), Fd.OpenDevNull(FileAccess.Write)];

    // A terminal process: output (stdout and stderr merged by the pty) comes from the master, stdin
    // goes to it; our stderr stream is empty.
    public static ProcessIo FromTerminal(SafeFileHandle master, bool stdin)
    {
        var readEnd = new SafeFileHandle(Dup(master), ownsHandle: true);
        FileStream? inOurs = stdin ? new FileStream(new SafeFileHandle(Dup(master), true), FileAccess.Write, 0) : null;
        return new ProcessIo(OutputPump.Start(readEnd), OutputPump.Empty(), inOurs, [], master);
    }

    public void ReleaseChildEnds()
    {
        foreach (var end in _childEnds)
        {
            end.Dispose();
        }
    }

    // Writes all of `data`; blocks while the pipe is full (the process is not reading), which is
    // the back-pressure towards the host.
    public async ValueTask<int> WriteStdinAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await _stdinLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var stdin = _stdin ?? throw new InvalidOperationException("stdin is closed or was not requested");
            await stdin.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            return data.Length;
        }
        finally
        {
            _stdinLock.Release();
        }
    }

    // Pipes: closes our write end, so the process reads EOF. Terminal: sends the EOF character
    // (VEOF, ^D in the default line discipline) since the master must stay open for the output.
    public async ValueTask CloseStdinAsync(CancellationToken cancellationToken)
    {
        await _stdinLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_stdin is null)
            {
                return;
            }

            if (IsTerminal)
            {
                await _stdin.WriteAsync(new byte[] { 0x04 }, cancellationToken).ConfigureAwait(false);
            }

            await _stdin.DisposeAsync().ConfigureAwait(false);
            _stdin = null;
        }
        finally
        {
            _stdinLock.Release();
        }
    }

    public unsafe void Resize(ushort columns, ushort rows)
    {
        var master = _ptyMaster ?? throw new InvalidOperationException("the process has no terminal");
        var size = new LibC.WinSize { Columns = columns, Rows = rows };
        if (LibC.ioctl(Fd.Raw(master), LibC.TIOCSWINSZ, &size) != 0)
        {
            throw new IOException($"TIOCSWINSZ: {LibC.ErrorText(LibC.LastError)}");
        }
    }

    public void Dispose()
    {
        ReleaseChildEnds();
        _stdin?.Dispose();
        _ptyMaster?.Dispose();
    }

    // Separate fds for reading and writing: the pump's FileStream closes its own at EOF.
    private static int Dup(SafeFileHandle handle) => Fd.DupCloexec(handle);
}
