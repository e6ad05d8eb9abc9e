using System.Diagnostics;
using Cc.Hypervisor.Processes;

namespace Cc.Shim.Network;

/// <summary>An iproute2 command in the pod's namespace failed, or the namespace cannot be entered.</summary>
public sealed class NetworkSetupException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>Runs iproute2 commands inside one network namespace.</summary>
public interface INetnsRunner
{
    /// <summary>Runs <paramref name="command"/> in the namespace at <paramref name="netnsPath"/> and returns its stdout.</summary>
    /// <exception cref="NetworkSetupException">It could not run, exited non-zero (stderr in the message) or overran its bound.</exception>
    string Run(string netnsPath, NetnsCommand command);
}

/// <summary>
/// <c>nsenter --net=&lt;path&gt; ip|tc ...</c>, each bounded by <see cref="Timeout"/>. nsenter rather than <c>ip -n</c>:
/// CNI's namespaces are files anywhere (containerd's are under /var/run/netns, others' are not), and -n takes a name.
/// The children are registered in <see cref="OwnChildren"/> so the daemon's orphan reaper leaves them to the runtime.
/// </summary>
public sealed class NsenterRunner : INetnsRunner
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static NsenterRunner Instance { get; } = new();

    public string Run(string netnsPath, NetnsCommand command)
    {
        var start = new ProcessStartInfo(Tool("nsenter"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["--net=" + netnsPath, "--", Tool(command.Program), .. command.Arguments])
        {
            start.ArgumentList.Add(argument);
        }
        using var process = OwnChildren.Start(() => Process.Start(start), p => p?.Id ?? 0)
            ?? throw new NetworkSetupException($"cannot start nsenter for {command}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                throw new NetworkSetupException($"{command} in {netnsPath} did not finish within {Timeout.TotalSeconds} s");
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new NetworkSetupException(
                    $"{command} in {netnsPath} exited {process.ExitCode}: {stderr.GetAwaiter().GetResult().Trim()}");
            }
            return stdout.GetAwaiter().GetResult();
        }
        finally
        {
            if (process.HasExited)
            {
                OwnChildren.Collected(process.Id);
            }
        }
    }

    // util-linux and iproute2 keep these in /usr/bin and /usr/sbin on Debian 12 (merged /usr); PATH may lack sbin
    // when containerd starts us, so the known places are tried first.
    private static string Tool(string name)
    {
        foreach (var directory in (string[])["/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                return path;
            }
        }
        throw new NetworkSetupException($"{name} is not installed (iproute2 and util-linux are needed for pod networking)");
    }
}
