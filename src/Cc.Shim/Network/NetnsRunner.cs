using Cc.Hypervisor.Processes;
using Microsoft.Win32.SafeHandles;

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
/// Started through the one spawner (<see cref="ChildSpawner"/>) with stdout and stderr on pipes of their own.
/// </summary>
public sealed class NsenterRunner : INetnsRunner
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static NsenterRunner Instance { get; } = new();

    public string Run(string netnsPath, NetnsCommand command)
    {
        var (outRead, outWrite) = AnonymousPipe.Create();
        var (errRead, errWrite) = AnonymousPipe.Create();
        ChildProcess process;
        try
        {
            process = ChildSpawner.Spawn(new SpawnOptions
            {
                Executable = Tool("nsenter"),
                Arguments = ["--net=" + netnsPath, "--", Tool(command.Program), .. command.Arguments],
                Fds = [new InheritedFd(1, outWrite), new InheritedFd(2, errWrite)],
            });
        }
        catch (ChildSpawnException e)
        {
            outRead.Dispose();
            errRead.Dispose();
            throw new NetworkSetupException($"cannot start nsenter for {command}: {e.Message}", e);
        }
        finally
        {
            // The child has its copies; ours must go, or the reads below never see end-of-file.
            outWrite.Dispose();
            errWrite.Dispose();
        }
        using (process)
        {
            var stdout = ReadToEndAsync(outRead);
            var stderr = ReadToEndAsync(errRead);
            if (!process.Exited.Wait(Timeout))
            {
                process.SignalGroup(9);
                throw new NetworkSetupException($"{command} in {netnsPath} did not finish within {Timeout.TotalSeconds} s");
            }
            var code = process.Exited.Result;
            if (code != 0)
            {
                throw new NetworkSetupException($"{command} in {netnsPath} exited {code}: {stderr.GetAwaiter().GetResult().Trim()}");
            }
            return stdout.GetAwaiter().GetResult();
        }
    }

    private static async Task<string> ReadToEndAsync(SafeFileHandle handle)
    {
        using var reader = new StreamReader(new FileStream(handle, FileAccess.Read, bufferSize: 0));
        return await reader.ReadToEndAsync().ConfigureAwait(false);
    }

    // util-linux and iproute2 keep these in /usr/bin and /usr/sbin on Debian 12 (merged /usr); PATH may lack sbin
    // when containerd starts us, so the known places are tried first.
    internal static string Tool(string name)
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
