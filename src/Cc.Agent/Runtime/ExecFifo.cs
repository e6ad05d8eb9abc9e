using System.Runtime.InteropServices;
using Cc.Agent.Containers;
using Cc.Agent.Native;

namespace Cc.Agent.Runtime;

// What `crun start` does to a created container, done in the agent (crun 1.8.1, libcrun/container.c
// libcrun_container_start and libcrun/status.c libcrun_status_write_exec_fifo): `crun create` left the init blocked
// reading <state root>/<id>/exec.fifo (the init holds the read end, opened O_NONBLOCK before the fork, and waits in
// select + read for one byte). `crun start` opens the FIFO for writing, unlinks it, writes one byte, and that is the
// start: crun keeps no "running" in its status file, `crun state` says created while the FIFO exists and running once
// it is gone and the init lives, so `crun state/kill/exec/ps/delete` see a container released here exactly as one
// released by `crun start`. Under TCG a crun process costs ~200 ms of guest CPU before it does anything
// (docs/performance.md, "crun start / delete"); these three system calls cost microseconds.
//
// What else `crun start` does, and why the agent may skip it: it runs poststart hooks (the agent drops every hook from
// the spec, OciSpec.Rewrite, since hooks name host binaries and run on the host, by the shim), and it relays
// sd_notify when NOTIFY_SOCKET is in its environment (the agent's runtime environment has none unless configured, and
// then `crun start` runs). Its status check (the init alive) is the agent's own Created state plus the init's exit.
internal static class ExecFifo
{
    public const string FileName = "exec.fifo";

    public enum Outcome
    {
        Released,
        // No FIFO at the expected path: the state root is not where the agent thinks (or crun changed); the caller
        // falls back to `crun start`, which knows.
        Missing,
    }

    // crun's state root for these options (libcrun/status.c get_run_directory): --root when given (as "--root=X" or
    // "--root X"), else $XDG_RUNTIME_DIR/crun when the runtime's environment sets it, else /run/crun.
    public static string StateRoot(AgentOptions options)
    {
        var arguments = options.RuntimeGlobalArguments;
        string? root = null;
        for (var i = 0; i < arguments.Count; i++)
        {
            if (arguments[i].StartsWith("--root=", StringComparison.Ordinal))
            {
                root = arguments[i]["--root=".Length..];
            }
            else if (arguments[i] == "--root" && i + 1 < arguments.Count)
            {
                root = arguments[++i];
            }
        }

        if (root is { Length: > 0 })
        {
            return root;
        }

        var xdg = EnvironmentValue(options.RuntimeEnvironment, "XDG_RUNTIME_DIR");
        return xdg is { Length: > 0 } ? Path.Combine(xdg, "crun") : "/run/crun";
    }

    // True when `crun start` would do more than release the init for any container of these options (sd_notify).
    public static bool RuntimeStartNeeded(AgentOptions options) =>
        EnvironmentValue(options.RuntimeEnvironment, "NOTIFY_SOCKET") is not null;

    public static string PathOf(string stateRoot, string containerId) => Path.Combine(stateRoot, containerId, FileName);

    // Releases the init waiting on `path` as crun start does: open for writing, unlink, write one byte. The open does not
    // block (O_NONBLOCK): while the init waits it holds the read end, so the open succeeds at once; with no reader left
    // (the init died) crun's blocking open would hang, ours fails with ENXIO. Throws AgentErrorException when the init
    // could not be released; Missing when there is no FIFO at all (nothing was changed then).
    public static unsafe Outcome Release(string path)
    {
        var fd = LibC.open(path, LibC.O_WRONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno switch
            {
                LibC.ENOENT => Outcome.Missing,
                LibC.ENXIO => throw AgentErrorException.Precondition($"the init no longer waits on {path} (it exited)"),
                _ => throw Failure("open", path, errno),
            };
        }

        try
        {
            // As crun: unlinked before the write, so once the init runs `crun state` already says running.
            if (LibC.unlink(path) < 0)
            {
                throw Failure("unlink", path, Marshal.GetLastPInvokeError());
            }

            byte zero = 0;
            nint written;
            do
            {
                written = LibC.write(fd, &zero, 1);
            }
            while (written < 0 && Marshal.GetLastPInvokeError() == LibC.EINTR);

            if (written != 1)
            {
                throw Failure("write to", path, Marshal.GetLastPInvokeError());
            }

            return Outcome.Released;
        }
        finally
        {
            LibC.close(fd);
        }
    }

    private static AgentErrorException Failure(string call, string path, int errno) =>
        new(AgentErrorKind.Internal, $"{call} {path}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");

    // The first assignment, as glibc's getenv reads the environment crun gets (posix_spawn passes it as it is).
    private static string? EnvironmentValue(IReadOnlyList<string> environment, string name)
    {
        foreach (var entry in environment)
        {
            if (entry.Length > name.Length && entry[name.Length] == '=' && entry.StartsWith(name, StringComparison.Ordinal))
            {
                return entry[(name.Length + 1)..];
            }
        }

        return null;
    }
}
