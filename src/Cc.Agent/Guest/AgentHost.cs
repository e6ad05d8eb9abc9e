using Cc.Agent.Containers;
using Cc.Agent.Logging;
using Cc.Agent.Protocol;
using Cc.Agent.Service;
using Cc.Ttrpc;
using Microsoft.Extensions.Logging;

namespace Cc.Agent.Guest;

// Wires the service to its transports and serves until cancelled: the virtio-serial port (one
// connection at a time, reopened whenever it ends), AF_VSOCK when the guest has /dev/vsock, or the
// --listen address when the agent runs as a normal process.
public static class AgentHost
{
    // virtio-serial reads return EOF at once (and poll says POLLHUP) while no host is connected, so the
    // reopen loop is paced: 20 ms after a real connection ends (the host reconnects quickly), doubling up
    // to 250 ms while the port keeps ending at once (no host), which keeps an idle guest from spinning.
    // A template is saved in this loop, so a clone's first answer can wait out one delay (docs/templates.md).
    private static readonly TimeSpan s_minReopenDelay = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan s_maxReopenDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan s_shortConnection = TimeSpan.FromMilliseconds(100);

    // VMADDR_CID_ANY: accept from any CID.
    private const uint AnyCid = uint.MaxValue;

    public static async Task RunAsync(AgentSettings settings, GuestSystem guest, ILoggerFactory loggerFactory,
        CancellationToken cancellationToken)
    {
        var logger = loggerFactory.CreateLogger("Cc.Agent.Host");
        var manager = new ContainerManager(settings.Options, loggerFactory);
        var service = new AgentService(manager, guest, settings.Options, loggerFactory);
        await using var server = new TtrpcServer(new TtrpcServerOptions { LoggerFactory = loggerFactory });
        server.Register(AgentServiceBinding.Bind(service));

        var loops = new List<Task>();
        if (settings.Listen is { } address)
        {
            AgentLog.GuestStep(logger, $"serving on {address}");
            loops.Add(server.ServeAsync(address, cancellationToken));
        }
        else
        {
            loops.Add(ServePortAsync(server, settings.PortName, logger, cancellationToken));
            if (File.Exists("/dev/vsock"))
            {
                AgentLog.GuestStep(logger, $"serving on vsock port {settings.VsockPort}");
                loops.Add(ServeVsockAsync(server, settings.VsockPort, logger, cancellationToken));
            }
        }

        await Task.WhenAll(loops).ConfigureAwait(false);
    }

    private static async Task ServePortAsync(TtrpcServer server, string name, ILogger logger, CancellationToken cancellationToken)
    {
        var announced = false;
        var reopenDelay = s_minReopenDelay;
        while (!cancellationToken.IsCancellationRequested)
        {
            var device = VirtioPort.Find(name);
            if (device is null)
            {
                if (!announced)
                {
                    AgentLog.GuestStepFailed(logger, $"virtio-serial port {name}", "not present (yet)");
                    announced = true;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (!announced)
            {
                AgentLog.GuestStep(logger, $"serving on {device} ({name})");
                announced = true;
            }

            var opened = TimeProvider.System.GetTimestamp();
            try
            {
                await using var stream = VirtioPort.Open(device);
                BootTimeline.Mark(BootTimeline.PortOpened);
                // The port has no connection boundary the guest always sees: a host that hangs up and comes back
                // before this read notices (or a clone restored from a template saved in that window, which is
                // common) keeps this connection, and its new client's ids start again. The server takes a
                // non-increasing id as a new session and drops what the old one's calls would still answer.
                await server.ServeConnectionAsync(stream, sessionsRestart: true, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or TtrpcException)
            {
                AgentLog.GuestStepFailed(logger, $"connection on {device}", e.Message);
            }

            reopenDelay = TimeProvider.System.GetElapsedTime(opened) < s_shortConnection
                ? TimeSpan.FromTicks(Math.Min(reopenDelay.Ticks * 2, s_maxReopenDelay.Ticks))
                : s_minReopenDelay;
            await Task.Delay(reopenDelay, cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task ServeVsockAsync(TtrpcServer server, uint port, ILogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await server.ServeAsync($"vsock://{AnyCid}:{port}", cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NotSupportedException or System.Net.Sockets.SocketException or IOException)
        {
            // Expected without a vhost-vsock device (TCG hosts): the virtio-serial port serves alone.
            AgentLog.GuestStep(logger, $"vsock port {port} not served: {e.Message}");
        }
    }
}
