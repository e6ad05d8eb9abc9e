using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Cc.Shim.Network;

/// <summary>One guest interface: the tap QEMU gets and what the agent sets on the guest side.</summary>
public sealed record GuestInterface(string Name, string MacAddress, int Mtu, IReadOnlyList<string> Addresses, SafeFileHandle Tap);

/// <summary>
/// The pod's network as the VM sees it once <see cref="Attach"/> has mirrored the namespace: one tap per interface,
/// and the interfaces and routes the agent gives the guest. Owns the tap descriptors until
/// <see cref="ReleaseTaps"/> (after QEMU holds its copies); <see cref="Detach"/> undoes everything in the namespace.
/// </summary>
public sealed partial class PodNetwork
{
    private readonly INetnsRunner _runner;
    private readonly ILogger _logger;

    private PodNetwork(string netnsPath, string runDirectory, IReadOnlyList<GuestInterface> interfaces,
        IReadOnlyList<NetnsRoute> routes, PortForwardListener? forwarding, INetnsRunner runner, ILogger logger)
    {
        Forwarding = forwarding;
        NetnsPath = netnsPath;
        RunDirectory = runDirectory;
        Interfaces = interfaces;
        Routes = routes;
        _runner = runner;
        _logger = logger;
    }

    public string NetnsPath { get; }

    public string RunDirectory { get; }

    public IReadOnlyList<GuestInterface> Interfaces { get; }

    /// <summary>The namespace's IPv4 routes that name a mirrored interface (the kernel's own link routes excluded).</summary>
    public IReadOnlyList<NetnsRoute> Routes { get; }

    /// <summary>
    /// The listener containerd's port-forward dials are redirected to (docs/networking.md, "Port forwarding"); null
    /// when it could not be set up (no loopback in the namespace, no iptables): PortForward then fails as before.
    /// Owned here until <see cref="Detach"/>.
    /// </summary>
    public PortForwardListener? Forwarding { get; }

    /// <summary>
    /// Mirrors every ethernet interface of the namespace at <paramref name="netnsPath"/> into a tap of its own
    /// (<see cref="TcMirrorPlan"/>). A namespace with no such interface is mirrored as nothing: the guest then has
    /// loopback only. Any failure undoes what was done and throws <see cref="NetworkSetupException"/>.
    /// </summary>
    public static PodNetwork Attach(string netnsPath, string runDirectory, INetnsRunner runner, ILogger logger)
    {
        if (!File.Exists(netnsPath))
        {
            throw new NetworkSetupException($"the pod's network namespace {netnsPath} does not exist");
        }
        var snapshot = Discover(netnsPath, runner);
        var mirrors = TcMirrorPlan.Select(snapshot.Interfaces);
        foreach (var mirror in mirrors)
        {
            if (QdiscKinds(netnsPath, mirror.Interface.Name, runner).Contains("ingress"))
            {
                throw new NetworkSetupException(
                    $"{mirror.Interface.Name} in {netnsPath} already has an ingress qdisc: something else redirects its traffic");
            }
        }
        var record = new NetworkRecord
        {
            NetnsPath = netnsPath,
            Mirrors = [.. mirrors.Select(m => new MirrorRecord { Interface = m.Interface.Name, Tap = m.TapName })],
        };
        if (mirrors.Count > 0)
        {
            record.Write(runDirectory);
        }
        List<GuestInterface> interfaces = [];
        PortForwardListener? forwarding = null;
        try
        {
            foreach (var mirror in mirrors)
            {
                var tap = TapDevice.Create(netnsPath, mirror.TapName);
                var i = mirror.Interface;
                interfaces.Add(new GuestInterface(i.Name, i.MacAddress, i.Mtu, i.Addresses, tap));
                foreach (var command in TcMirrorPlan.SetUp(mirror))
                {
                    runner.Run(netnsPath, command);
                }
                Log.Mirrored(logger, i.Name, i.MacAddress, string.Join(' ', i.Addresses), i.Mtu, mirror.TapName, netnsPath);
            }
            forwarding = SetUpForwarding(netnsPath, record, runDirectory, runner, logger);
        }
        catch
        {
            foreach (var i in interfaces)
            {
                i.Tap.Dispose();
            }
            forwarding?.Dispose();
            TearDown(record, runDirectory, runner, logger);
            throw;
        }
        var names = mirrors.Select(m => m.Interface.Name).ToHashSet(StringComparer.Ordinal);
        return new PodNetwork(netnsPath, runDirectory, interfaces,
            [.. snapshot.Routes.Where(r => names.Contains(r.Device))], forwarding, runner, logger);
    }

    /// <summary>
    /// The listener and its NAT rule (<see cref="PortForwardRule"/>), recorded before the rule is added. Port
    /// forwarding is not what the pod runs on: when it cannot be set up the pod starts without it, with a warning.
    /// </summary>
    private static PortForwardListener? SetUpForwarding(string netnsPath, NetworkRecord record, string runDirectory,
        INetnsRunner runner, ILogger logger)
    {
        PortForwardListener listener;
        try
        {
            listener = PortForwardListener.Open(netnsPath);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            Log.ForwardingUnavailable(logger, netnsPath, e.Message);
            return null;
        }
        record.PortForwardPort = listener.Port;
        record.Write(runDirectory);
        try
        {
            runner.Run(netnsPath, PortForwardRule.Add(listener.Port));
        }
        catch (NetworkSetupException e)
        {
            listener.Dispose();
            record.PortForwardPort = 0;
            record.Write(runDirectory);
            Log.ForwardingUnavailable(logger, netnsPath, e.Message);
            return null;
        }
        Log.ForwardingReady(logger, listener.Port, netnsPath);
        return listener;
    }

    /// <summary>The interfaces and routes of the namespace, as <c>ip</c> reports them.</summary>
    public static NetnsSnapshot Discover(string netnsPath, INetnsRunner runner) => new(
        IpJsonParser.ParseAddresses(runner.Run(netnsPath, new NetnsCommand("ip", ["-j", "addr", "show"]))),
        IpJsonParser.ParseRoutes(runner.Run(netnsPath, new NetnsCommand("ip", ["-j", "-4", "route", "show", "table", "main"]))));

    /// <summary>Closes the shim's tap descriptors: from now on each tap lives exactly as long as QEMU.</summary>
    public void ReleaseTaps()
    {
        foreach (var i in Interfaces)
        {
            i.Tap.Dispose();
        }
    }

    /// <summary>Removes our taps and redirects from the namespace; idempotent.</summary>
    public void Detach()
    {
        ReleaseTaps();
        Forwarding?.Dispose();
        if (NetworkRecord.Read(RunDirectory) is { } record)
        {
            TearDown(record, RunDirectory, _runner, _logger);
        }
    }

    /// <summary>
    /// Removes what <paramref name="record"/> names and is still there, then the record. A namespace that is gone
    /// took everything of ours with it. Used by <see cref="Detach"/> and by <c>shim delete</c> after a crash.
    /// </summary>
    public static void TearDown(NetworkRecord record, string runDirectory, INetnsRunner runner, ILogger logger)
    {
        var complete = true;
        if (record.NetnsPath.Length > 0 && File.Exists(record.NetnsPath) && (record.Mirrors.Count > 0 || record.PortForwardPort > 0))
        {
            if (record.PortForwardPort > 0 && !RemoveForwardingRule(record, runner, logger))
            {
                complete = false;
            }
            try
            {
                var links = IpJsonParser.ParseAddresses(runner.Run(record.NetnsPath, new NetnsCommand("ip", ["-j", "addr", "show"])))
                    .Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
                foreach (var mirror in record.Mirrors)
                {
                    var vethHasIngress = links.Contains(mirror.Interface)
                        && QdiscKinds(record.NetnsPath, mirror.Interface, runner).Contains("ingress");
                    foreach (var command in TcMirrorPlan.TearDown(mirror.Interface, mirror.Tap, vethHasIngress, links.Contains(mirror.Tap)))
                    {
                        // Every step is tried: one that fails must not keep the others' leftovers in the namespace.
                        try
                        {
                            runner.Run(record.NetnsPath, command);
                        }
                        catch (NetworkSetupException e)
                        {
                            complete = false;
                            Log.TearDownFailed(logger, e, command.ToString(), record.NetnsPath);
                        }
                    }
                }
            }
            catch (Exception e) when (e is NetworkSetupException or FormatException)
            {
                complete = false;
                Log.TearDownFailed(logger, e, "ip -j addr show", record.NetnsPath);
            }
            if (complete)
            {
                Log.Detached(logger, record.NetnsPath);
            }
        }
        // Kept after a failure, so that a later delete tries again.
        if (complete)
        {
            NetworkRecord.Delete(runDirectory);
        }
    }

    /// <summary>Deletes the port-forward rule if it is there; false when it is and could not be deleted.</summary>
    private static bool RemoveForwardingRule(NetworkRecord record, INetnsRunner runner, ILogger logger)
    {
        try
        {
            runner.Run(record.NetnsPath, PortForwardRule.Check(record.PortForwardPort));
        }
        catch (NetworkSetupException)
        {
            // -C exits non-zero when the rule is not there (or iptables is gone, and with it any way to have added it).
            return true;
        }
        var delete = PortForwardRule.Delete(record.PortForwardPort);
        try
        {
            runner.Run(record.NetnsPath, delete);
            return true;
        }
        catch (NetworkSetupException e)
        {
            Log.TearDownFailed(logger, e, delete.ToString(), record.NetnsPath);
            return false;
        }
    }

    private static IReadOnlyList<string> QdiscKinds(string netnsPath, string device, INetnsRunner runner) =>
        IpJsonParser.ParseQdiscKinds(runner.Run(netnsPath, new NetnsCommand("tc", ["-j", "qdisc", "show", "dev", device])));

    private static partial class Log
    {
        [LoggerMessage(EventId = 400, Level = LogLevel.Information,
            Message = "Pod network: {Interface} ({Mac}, {Addresses}, mtu {Mtu}) mirrored through {Tap} in {Netns}")]
        public static partial void Mirrored(ILogger logger, string @interface, string mac, string addresses, int mtu, string tap, string netns);

        [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Pod network: taps and redirects removed from {Netns}")]
        public static partial void Detached(ILogger logger, string netns);

        [LoggerMessage(EventId = 402, Level = LogLevel.Warning, Message = "Pod network: '{Command}' in {Netns} failed during teardown")]
        public static partial void TearDownFailed(ILogger logger, Exception e, string command, string netns);

        [LoggerMessage(EventId = 910, Level = LogLevel.Information,
            Message = "Pod network: port forwarding listens on 127.0.0.1:{Port} in {Netns}; local TCP to 127.0.0.1 is redirected to it")]
        public static partial void ForwardingReady(ILogger logger, int port, string netns);

        [LoggerMessage(EventId = 911, Level = LogLevel.Warning,
            Message = "Pod network: no port forwarding for {Netns} (CRI PortForward will fail): {Reason}")]
        public static partial void ForwardingUnavailable(ILogger logger, string netns, string reason);
    }
}
