using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Qemu.Devices;
using Cc.Hypervisor.Qmp;
using Microsoft.Extensions.Logging;

namespace Cc.Hypervisor.Templates;

/// <summary>
/// Makes, finds and clones template VMs below <see cref="Directory"/> (tmpfs: a template's RAM lives there). The
/// template boots like any VM but with its RAM in a shared memory file, is left until the guest is ready (the caller's
/// <c>connectGuest</c>, which must leave the guest with nothing mounted from the host), stopped, and has its device
/// state saved beside its RAM. A clone is a QEMU with the same command line but for its own paths, the template's
/// memory file mapped private and <c>-incoming defer</c>, which then loads the saved state and runs on.
/// Concurrent shims making the same template serialize on a lock file per key; the first makes it, the others find it.
/// </summary>
public sealed partial class VmTemplateFactory(QemuHypervisor hypervisor, string directory, ILogger logger)
{
    /// <summary>How long a shim waits for another one making the same template.</summary>
    private static readonly TimeSpan LockWait = TimeSpan.FromMinutes(3);

    private static readonly TimeSpan LockRetry = TimeSpan.FromMilliseconds(50);

    /// <summary>The template's QEMU start is a one-off that every later pod saves on: it may wait longer for QEMU's monitor
    /// than a pod's start does (seen taking over 10 s on a 2-core host at load 35).</summary>
    private static readonly TimeSpan TemplateStartTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Bounds the template agent's close of its port after the factory's hang-up: milliseconds on an idle host,
    /// seconds of a TCG guest's time at load 50+, plus up to 1 s of QEMU's event throttling.</summary>
    public static readonly TimeSpan GuestPortCloseBound = TimeSpan.FromSeconds(30);

    /// <summary>Longer than QEMU's one-second VSERPORT_CHANGE throttle, with a margin for a loaded main loop.</summary>
    private static readonly TimeSpan PortQuietBeforeHangUp = TimeSpan.FromSeconds(2);

    /// <summary>Bounds saving a template's state (a few hundred KB of device state; RAM is not in the stream).</summary>
    public static readonly TimeSpan SaveTimeout = TimeSpan.FromSeconds(60);

    public string Directory { get; } = directory;

    public string KeyFor(VmConfig config) => VmTemplateKey.For(config, hypervisor.Host);

    /// <summary>The complete template for <paramref name="key"/>, or null.</summary>
    public VmTemplate? Find(string key)
    {
        var template = new VmTemplate(key, Path.Combine(Directory, key));
        return File.Exists(template.StatePath) && File.Exists(template.MemoryPath) ? template : null;
    }

    /// <summary>
    /// The template for <paramref name="config"/>'s shape, made now if there is none: <paramref name="connectGuest"/>
    /// returns, once the booted template's guest is ready to be saved, the host's open connection to its agent, which the
    /// factory then hangs up (and, over virtio-serial, waits for the agent to let go of: <see cref="HangUpAsync"/>).
    /// </summary>
    /// <remarks>
    /// Making a template takes a cold boot and a save (tens of seconds under TCG): <paramref name="progress"/>, when
    /// given, hears of each of the <see cref="CreateSteps"/> steps as it begins (<c>factory init</c> prints them).
    /// </remarks>
    public async Task<VmTemplate> EnsureAsync(VmConfig config, Func<QemuVirtualMachine, CancellationToken, Task<IAsyncDisposable>> connectGuest,
        CancellationToken cancellationToken, Action<string>? progress = null)
    {
        string key = KeyFor(config);
        if (Find(key) is { } found)
        {
            return found;
        }
        System.IO.Directory.CreateDirectory(Directory);
        using FileStream held = await LockAsync(Path.Combine(Directory, key + ".lock"), cancellationToken).ConfigureAwait(false);
        if (Find(key) is { } madeMeanwhile)
        {
            return madeMeanwhile;
        }
        return await CreateAsync(config, key, connectGuest, progress ?? (_ => { }), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How many steps making a template reports (boot, wait for the guest, save, stop).</summary>
    public const int CreateSteps = 4;

    private async Task<VmTemplate> CreateAsync(VmConfig config, string key, Func<QemuVirtualMachine, CancellationToken, Task<IAsyncDisposable>> connectGuest,
        Action<string> progress, CancellationToken cancellationToken)
    {
        long started = TimeProvider.System.GetTimestamp();
        string partial = Path.Combine(Directory, $"{key}.partial-{Environment.ProcessId}");
        DeleteQuietly(partial);
        System.IO.Directory.CreateDirectory(partial);
        string share = Path.Combine(partial, "share");
        System.IO.Directory.CreateDirectory(share);
        var made = new VmTemplate(key, partial);
        VmConfig templateConfig = config with
        {
            RunDirectory = Path.Combine(partial, "vm"),
            ConsoleLogPath = Path.Combine(partial, "console.log"),
            Shared = config.Shared is { } shared ? shared with { HostPath = share } : null,
            MemoryFile = new GuestMemoryFile(made.MemoryPath, Shared: true),
            IncomingMigration = false,
            NetworkInterfaces = [],
            NetworkHotplug = false,
            StartTimeout = config.StartTimeout > TemplateStartTimeout ? config.StartTimeout : TemplateStartTimeout,
        };
        Log.Creating(logger, key, Directory);
        try
        {
            progress($"booting the template VM ({config.MemoryMiB} MiB, {config.Vcpus} vCPU) in {partial}");
            await using (QemuVirtualMachine vm = await hypervisor.StartAsync(templateConfig, cancellationToken).ConfigureAwait(false))
            {
                progress($"waiting for its guest agent (QEMU pid {vm.Pid}; console {templateConfig.ConsoleLogPath})");
                IAsyncDisposable host = await connectGuest(vm, cancellationToken).ConfigureAwait(false);
                await HangUpAsync(vm, templateConfig, host, key, cancellationToken).ConfigureAwait(false);
                progress($"saving its state ({config.MemoryMiB} MiB of RAM stay in {made.MemoryPath})");
                await vm.SaveStateAsync(made.StatePath, SaveTimeout, cancellationToken).ConfigureAwait(false);
                progress("stopping the template VM");
                await vm.StopAsync(QemuVirtualMachine.DisposeGrace, cancellationToken).ConfigureAwait(false);
            }
            System.IO.Directory.Delete(share);
            string final = Path.Combine(Directory, key);
            DeleteQuietly(final);
            System.IO.Directory.Move(partial, final);
            Log.Created(logger, key, TimeProvider.System.GetElapsedTime(started).TotalMilliseconds);
            return new VmTemplate(key, final);
        }
        catch
        {
            DeleteQuietly(partial);
            throw;
        }
    }

    /// <summary>
    /// Hangs up the factory's agent connection <paramref name="host"/> and, over virtio-serial, returns only once the
    /// guest has closed its agent port (QEMU's <c>VSERPORT_CHANGE</c> for <see cref="VirtioSerialAgentDevice.PortDeviceId"/>
    /// saying open false), so the agent is back in its reopen loop. The port has no connection
    /// boundary of its own: a template saved before its agent read the hang-up gives every clone that stale hang-up, and
    /// a clone's first call answered before the agent reads it is followed by a close that discards the next one
    /// (docs/templates.md, "The first answer"). A vsock connection ends for the guest with the host's close.
    /// </summary>
    private async Task HangUpAsync(QemuVirtualMachine vm, VmConfig config, IAsyncDisposable host, string key,
        CancellationToken cancellationToken)
    {
        if (config.Agent is not VirtioSerialTransport)
        {
            await host.DisposeAsync().ConfigureAwait(false);
            return;
        }
        using QmpEventSubscription events = vm.Qmp.SubscribeEvents();
        try
        {
            // No throttle window of the port may be running at the hang-up, or the guest's close and reopen would reach
            // us as one "open: true" (CI, 2026-12-07: a template whose factory hung up within a second of the agent's
            // first open waited its whole bound for a close that QEMU never sent).
            await events.WaitForQuietAsync(VirtioSerialAgentDevice.PortDeviceId, PortQuietBeforeHangUp, cancellationToken)
                .ConfigureAwait(false);
            // Port changes from the factory's own probing (an agent that saw an earlier probe connection end) were raised
            // before the answer that ended it. QEMU's reply to this command follows them on the monitor, so once it is
            // here they are delivered and can be dropped: only the hang-up's close counts. One still held back by QEMU's
            // throttle carries the port's latest state, open (the agent answered on it), which the wait skips.
            await vm.Qmp.QueryStatusAsync(cancellationToken).ConfigureAwait(false);
            events.DiscardDelivered();
        }
        finally
        {
            await host.DisposeAsync().ConfigureAwait(false);
        }
        long hungUp = TimeProvider.System.GetTimestamp();
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(GuestPortCloseBound);
        try
        {
            await events.WaitForCloseAsync(VirtioSerialAgentDevice.PortDeviceId, bounded.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new VmStateException(
                $"the template's agent did not close its port within {GuestPortCloseBound.TotalSeconds:0} s of the " +
                $"factory's hang-up (no VSERPORT_CHANGE for {VirtioSerialAgentDevice.PortDeviceId} saying open false): " +
                "saved now, every clone would start on the factory's connection");
        }
        Log.GuestPortClosed(logger, key, TimeProvider.System.GetElapsedTime(hungUp).TotalMilliseconds);
    }

    /// <summary>
    /// Starts a clone of <paramref name="template"/> with <paramref name="config"/> (whose key must be the template's):
    /// returns once the saved state is loaded, the guest runs on and <paramref name="config"/>'s network interfaces are
    /// hot-plugged into the template's <see cref="VmConfig.HotplugPorts"/> (their taps reach QEMU through the spawner's
    /// fd map; the saved device set has no NIC) and taken by the guest's driver within <paramref name="nicTimeout"/>.
    /// On failure nothing is left behind: the clone's QEMU is stopped and its run directory removed, so the caller can boot
    /// the same pod cold with the same taps.
    /// </summary>
    public async Task<QemuVirtualMachine> StartCloneAsync(VmConfig config, VmTemplate template, TimeSpan loadTimeout,
        TimeSpan nicTimeout, CancellationToken cancellationToken)
    {
        VmConfig clone = config with
        {
            MemoryFile = new GuestMemoryFile(template.MemoryPath, Shared: false),
            IncomingMigration = true,
            NetworkHotplug = true,
        };
        QemuVirtualMachine vm = await hypervisor.StartAsync(clone, cancellationToken).ConfigureAwait(false);
        try
        {
            await vm.LoadStateAsync(template.StatePath, loadTimeout, cancellationToken).ConfigureAwait(false);
            if (clone.NetworkInterfaces.Count > 0)
            {
                await vm.PlugNetworkInterfacesAsync(clone, cancellationToken).ConfigureAwait(false);
                await vm.WaitForGuestNicsAsync(clone, nicTimeout, cancellationToken).ConfigureAwait(false);
            }
            return vm;
        }
        catch
        {
            await vm.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Removes every template and lock file; returns how many templates there were. Running clones keep their
    /// mapping of a removed memory file (the pages stay until the last clone ends).</summary>
    public int DestroyAll()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return 0;
        }
        int templates = 0;
        foreach (string entry in System.IO.Directory.EnumerateFileSystemEntries(Directory))
        {
            if (System.IO.Directory.Exists(entry))
            {
                templates += Path.GetFileName(entry).Contains('.', StringComparison.Ordinal) ? 0 : 1;
                DeleteQuietly(entry);
            }
            else
            {
                File.Delete(entry);
            }
        }
        System.IO.Directory.Delete(Directory);
        return templates;
    }

    private static async Task<FileStream> LockAsync(string path, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(LockWait);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        while (true)
        {
            try
            {
                // FileShare.None is an exclusive advisory lock (flock) on Linux; it goes with the descriptor, so a
                // crashed maker releases it.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (!linked.IsCancellationRequested)
            {
                await Task.Delay(LockRetry, linked.Token).ConfigureAwait(false);
            }
        }
    }

    private static void DeleteQuietly(string path)
    {
        try
        {
            if (System.IO.Directory.Exists(path))
            {
                System.IO.Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // Left for factory destroy; a partial directory is never mistaken for a template.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(3100, LogLevel.Information, "Template {Key}: making it in {Directory} (a cold boot, then the state is saved)")]
        public static partial void Creating(ILogger logger, string key, string directory);

        [LoggerMessage(3101, LogLevel.Information, "Template {Key}: made in {Milliseconds:0} ms")]
        public static partial void Created(ILogger logger, string key, double milliseconds);

        [LoggerMessage(810, LogLevel.Information, "Template {Key}: its agent closed its port {Milliseconds:0} ms after the factory hung up; saving")]
        public static partial void GuestPortClosed(ILogger logger, string key, double milliseconds);
    }
}
