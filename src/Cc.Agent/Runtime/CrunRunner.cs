using System.Text;
using Cc.Agent.Containers;
using Cc.Agent.Native;
using Cc.Agent.Processes;
using Microsoft.Win32.SafeHandles;

namespace Cc.Agent.Runtime;

// Runs one runtime (crun) command and reports its failure with the runtime's own words. Commands
// are short (create, start, exec --detach, kill, delete, pause), so each is awaited to its exit.
// The runtime writes its errors to a per-command log file (--log), because its stderr may be the
// container's stderr pipe (create and exec hand their stdio to the process).
internal sealed class CrunRunner(AgentOptions options, ChildReaper reaper)
{
    private int _logCounter;

    // Runs `arguments` with `stdio` as the runtime's fds 0..2 (null: /dev/null in, captured out).
    // Returns what it printed on stdout; throws AgentErrorException with the runtime's message when
    // it exits non-zero.
    public async Task<string> RunAsync(string logDirectory, IReadOnlyList<string> arguments, int[]? stdio,
        CancellationToken cancellationToken)
    {
        var log = Path.Combine(logDirectory, $"crun-{Interlocked.Increment(ref _logCounter)}.log");
        var argv = new List<string>(arguments.Count + 4) { options.RuntimePath, $"--log=file:{log}" };
        argv.AddRange(options.RuntimeGlobalArguments);
        argv.AddRange(arguments);

        SafeFileHandle? captureRead = null;
        var owned = new List<SafeFileHandle>();
        try
        {
            if (stdio is null)
            {
                var (read, write) = Fd.CreatePipe();
                captureRead = read;
                var devNullIn = Fd.OpenDevNull(FileAccess.Read);
                var devNullOut = Fd.OpenDevNull(FileAccess.Write);
                owned.AddRange([write, devNullIn, devNullOut]);
                stdio = [Fd.Raw(devNullIn), Fd.Raw(write), Fd.Raw(devNullOut)];
            }

            var mark = reaper.Mark();
            Guest.BootTimeline.MarkRuntime(arguments[0], "spawned");
            var pid = PosixSpawn.Spawn(options.RuntimePath, argv, options.RuntimeEnvironment, stdio);
            reaper.NotifySpawned();
            var exit = reaper.Claim(pid, mark);
            foreach (var handle in owned)
            {
                handle.Dispose();
            }

            owned.Clear();
            var output = captureRead is null ? Task.FromResult("") : ReadAllAsync(captureRead);
            var status = await exit.WaitAsync(cancellationToken).ConfigureAwait(false);
            Guest.BootTimeline.MarkRuntime(arguments[0], "exited");
            var text = await output.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (status.Code != 0)
            {
                throw Failure(arguments, status.Code, ReadLog(log));
            }

            return text;
        }
        finally
        {
            foreach (var handle in owned)
            {
                handle.Dispose();
            }

            TryDelete(log);
        }
    }

    private static async Task<string> ReadAllAsync(SafeFileHandle read)
    {
        await using var stream = new FileStream(read, FileAccess.Read, bufferSize: 0);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadToEndAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private static AgentErrorException Failure(IReadOnlyList<string> arguments, int code, string log)
    {
        var command = arguments.Count > 0 ? arguments[0] : "?";
        var message = log.Length > 0 ? log : $"exit status {code}";
        // Our own registry answers NotFound before crun is ever asked, so a runtime failure is the
        // runtime's or the request's content (a missing executable, a bad mount): Internal, with its words.
        return new AgentErrorException(AgentErrorKind.Internal, $"crun {command}: {message}");
    }

    private static string ReadLog(string path)
    {
        try
        {
            // The log holds one line per message; the last is the error that ended the command.
            var lines = File.ReadAllLines(path).Where(l => l.Trim().Length > 0).ToArray();
            return lines.Length == 0 ? "" : string.Join("; ", lines.TakeLast(3)).Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // the bundle may have been removed already
        }
    }
}
