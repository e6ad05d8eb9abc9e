using Cc.Hypervisor.Processes;
using Cc.Hypervisor.Qemu.Hotplug;
using Cc.Hypervisor.Qmp;
using Microsoft.Extensions.Logging;

namespace Cc.Hypervisor.Qemu;

/// <summary>
/// One QEMU process and what belongs to it: the QMP connection, the run directory, the console log,
/// and virtiofsd when virtio-fs is used. Stop and dispose are each one idempotent path: every caller
/// awaits the same task.
/// </summary>
public sealed partial class QemuVirtualMachine : IVirtualMachine
{
    /// <summary>How long dispose lets QEMU quit before killing it.</summary>
    public static readonly TimeSpan DisposeGrace = TimeSpan.FromSeconds(2);

    // After QEMU exits, its SHUTDOWN event may still be in flight on the QMP socket; the exit reason
    // waits this long for the socket to drain so that it can name QEMU's own reason.
    private static readonly TimeSpan ExitDrainTimeout = TimeSpan.FromSeconds(1);

    // Killing and reaping a process takes milliseconds; this bounds it so dispose can never hang.
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(10);

    private readonly RunLayout _layout;
    private readonly ChildProcess _process;
    private readonly ChildProcess? _virtiofsd;
    private readonly ConsoleLog _console;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _name;
    private readonly Lock _gate = new();

    // Guarded by _gate. The first SHUTDOWN reason wins (a reset after a shutdown is noise).
    private string? _shutdownReason;
    private bool _killedByUs;
    private Task? _stop;
    private Task? _dispose;

    private QmpClient? _qmp;
    private Task _eventLoop = Task.CompletedTask;

    // Fed by the event loop; null for a vsock agent (no port event to see).
    private readonly VirtioSerialPortOpens? _agentPortOpens;

    internal QemuVirtualMachine(RunLayout layout, ChildProcess process, ChildProcess? virtiofsd, ConsoleLog console, AgentEndpoint agent, ILogger logger, TimeProvider time)
    {
        _layout = layout;
        _process = process;
        _virtiofsd = virtiofsd;
        _console = console;
        _logger = logger;
        _time = time;
        _name = Path.GetFileName(Path.TrimEndingDirectorySeparator(layout.Directory));
        Agent = agent;
        _agentPortOpens = agent is VirtioSerialEndpoint ? new VirtioSerialPortOpens(Devices.VirtioSerialAgentDevice.PortDeviceId) : null;
        AgentPortOpens = _agentPortOpens is null ? null : new MainLoopWakingSignal(_agentPortOpens, this);
        Exited = ObserveExitAsync();
    }

    public int Pid => _process.Pid;

    public AgentEndpoint Agent { get; }

    public Task<VmExit> Exited { get; }

    /// <summary>The guest console log (ttyS0 plus QEMU's stderr lines).</summary>
    public string ConsoleLogPath => _layout.ConsoleLogPath;

    /// <summary>The QMP connection, for hotplug, pause/resume and events. Valid once StartAsync returned.</summary>
    public QmpClient Qmp => _qmp ?? throw new InvalidOperationException("the VM's QMP connection is not established yet");

    /// <summary>The guest's opens of the virtio-serial agent port (QEMU's VSERPORT_CHANGE); null for a vsock agent. Each
    /// waiter it releases also wakes QEMU's main loop (<see cref="WakeMainLoopAsync"/>), so its next request is read.</summary>
    public IGuestPortSignal? AgentPortOpens { get; }

    /// <summary>Set once connected when the VM was started with hot-plug headroom.</summary>
    public IVmHotplug? Hotplug { get; private set; }

    /// <summary>Gives the VM its hot-plug interface over the (connected) QMP connection when <paramref name="config"/> has headroom.</summary>
    internal void EnableHotplug(VmConfig config)
    {
        if (QemuVmHotplug.HasHeadroom(config))
        {
            Hotplug = new QemuVmHotplug(Qmp, config, _time, QemuVmHotplug.DefaultBound);
        }
    }

    public async Task<string> QueryStatusAsync(CancellationToken cancellationToken) =>
        (await Qmp.QueryStatusAsync(cancellationToken).ConfigureAwait(false)).Status;

    /// <summary>Waits for QEMU's QMP socket and connects, failing early if QEMU exits first.</summary>
    internal async Task ConnectAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        QmpEventSubscription? events = null;
        while (true)
        {
            if (_process.HasExited)
            {
                int code = await _process.Exited.ConfigureAwait(false);
                throw new VmStartException($"QEMU exited with code {code} before its monitor answered", _process.Tail());
            }
            if (File.Exists(_layout.QmpSocket))
            {
                try
                {
                    (_qmp, events) = await QmpClient.ConnectAndSubscribeAsync(_layout.QmpSocket, _logger, linked.Token).ConfigureAwait(false);
                    break;
                }
                catch (System.Net.Sockets.SocketException)
                {
                    // The socket file appears just before QEMU listens on it; try again.
                }
                catch (Exception ex) when (ex is IOException or QmpDisconnectedException or QmpProtocolException)
                {
                    // QEMU opens its chardevs, the QMP socket among them, before it checks the
                    // devices: a rejected command line shows up as a socket closed mid-handshake.
                    // QEMU's exit and its stderr are then the reason worth reporting.
                    try
                    {
                        int code = await _process.Exited.WaitAsync(ExitDrainTimeout, _time).ConfigureAwait(false);
                        throw new VmStartException($"QEMU exited with code {code} before its monitor answered", _process.Tail(), ex);
                    }
                    catch (TimeoutException)
                    {
                        throw new VmStartException($"QMP handshake on {_layout.QmpSocket} failed: {ex.Message}", _process.Tail(), ex);
                    }
                }
                catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    break;
                }
            }
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10), _time, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                break;
            }
        }
        if (_qmp is null || events is null)
        {
            throw new VmStartException($"QEMU's monitor {_layout.QmpSocket} did not answer within {timeout}", _process.Tail());
        }
        _eventLoop = Task.Run(() => WatchEventsAsync(events), CancellationToken.None);
    }

    private async Task WatchEventsAsync(QmpEventSubscription events)
    {
        using (events)
        {
            // Ends when the QMP connection closes, at QEMU's exit at the latest.
            await foreach (QmpEvent evt in events.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                if (_agentPortOpens?.Observe(evt) == true)
                {
                    QemuLog.AgentPortOpened(_logger, _name);
                }
                else if (evt.Name == QmpEvent.Shutdown)
                {
                    string reason = evt.Data.TryGetProperty("reason", out var r) ? r.GetString() ?? "unknown" : "unknown";
                    lock (_gate)
                    {
                        _shutdownReason ??= reason;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Makes QEMU's main loop run one iteration now. While the guest's port is closed QEMU takes the agent socket out of
    /// its poll set (the port cannot take bytes); the guest's open, handled on the vCPU thread, does not wake the main
    /// loop to put it back, so a request already written waits for the loop's next wake-up for some other reason (a
    /// guest timer, a QMP command). A QMP command is such a reason, and the cheapest one the host can give. Sent only for
    /// a waiter (someone probing the agent), never by the event loop on its own.
    /// </summary>
    private async Task WakeMainLoopAsync()
    {
        try
        {
            await Qmp.QueryStatusAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is QmpDisconnectedException or QmpProtocolException or QmpErrorException)
        {
            // QEMU is going: nothing left to wake.
        }
    }

    /// <summary>The port's opens, each released waiter starting a wake-up of QEMU's main loop (not awaited: the waiter's
    /// next request goes out at once, the wake-up's round trip runs beside it).</summary>
    private sealed class MainLoopWakingSignal(VirtioSerialPortOpens opens, QemuVirtualMachine vm) : IGuestPortSignal
    {
        public async Task NextOpenAsync(CancellationToken cancellationToken)
        {
            await opens.NextOpenAsync(cancellationToken).ConfigureAwait(false);
            _ = vm.WakeMainLoopAsync();
        }
    }

    private async Task<VmExit> ObserveExitAsync()
    {
        int code = await _process.Exited.ConfigureAwait(false);
        try
        {
            await _eventLoop.WaitAsync(ExitDrainTimeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // QMP never connected or did not close: the reason comes from the exit code instead.
        }
        string reason;
        lock (_gate)
        {
            reason = _shutdownReason is { } r ? r
                : _killedByUs ? "killed (SIGKILL) by the driver's stop"
                : code == 0 ? "exited"
                : code > 128 ? $"killed by signal {code - 128}"
                : $"exited with code {code}: {LastLine(_process.Tail())}";
        }
        QemuLog.Exited(_logger, _name, _process.Pid, code, reason);
        return new VmExit(code, reason);
    }

    private static string LastLine(string tail) => tail.Length == 0 ? "(no stderr)" : tail[(tail.LastIndexOf('\n') + 1)..];
}
