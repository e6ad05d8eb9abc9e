using Cc.Hypervisor.Processes;
using Microsoft.Extensions.Logging;

namespace Cc.Hypervisor.Qemu;

/// <summary>
/// Starts virtiofsd for a virtio-fs share and waits until its vhost-user socket exists, so QEMU can
/// connect at start. sandbox=chroot: the namespace sandbox needs unshare rights that a shim running
/// inside a container often lacks; the share is a directory the shim prepared, not user input.
/// </summary>
internal static class Virtiofsd
{
    private static readonly TimeSpan SocketTimeout = TimeSpan.FromSeconds(5);

    public static async Task<ChildProcess> StartAsync(SharedDirectory shared, RunLayout layout, ILogger logger, string vm, TimeProvider time, CancellationToken cancellationToken)
    {
        string[] arguments =
        [
            "--socket-path=" + layout.VirtiofsdSocket,
            "-o", "source=" + shared.HostPath,
            "-o", "cache=auto",
            "-o", "sandbox=chroot",
        ];
        ChildProcess process = Spawn.Helper(new SpawnOptions
        {
            Executable = shared.VirtiofsdPath,
            Arguments = arguments,
            CaptureOutput = true,
            OnOutputLine = line => QemuLog.VirtiofsdStderr(logger, vm, line),
        });
        QemuLog.VirtiofsdStarted(logger, vm, process.Pid, shared.HostPath);
        try
        {
            long start = time.GetTimestamp();
            while (!File.Exists(layout.VirtiofsdSocket))
            {
                if (process.HasExited)
                {
                    int code = await process.Exited.ConfigureAwait(false);
                    throw new VmStartException($"virtiofsd exited with code {code} before creating its socket", process.Tail());
                }
                if (time.GetElapsedTime(start) > SocketTimeout)
                {
                    throw new VmStartException($"virtiofsd did not create {layout.VirtiofsdSocket} within {SocketTimeout}", process.Tail());
                }
                await Task.Delay(TimeSpan.FromMilliseconds(10), time, cancellationToken).ConfigureAwait(false);
            }
            return process;
        }
        catch
        {
            process.Kill();
            await process.Exited.ConfigureAwait(false);
            process.Dispose();
            throw;
        }
    }
}
