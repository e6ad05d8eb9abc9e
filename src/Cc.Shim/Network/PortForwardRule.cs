using System.Globalization;

namespace Cc.Shim.Network;

/// <summary>
/// The one NAT rule that makes CRI port forwarding reach the VM (docs/networking.md, "Port forwarding"), written down
/// as commands (pure). containerd 1.6/1.7 serve PortForward by dialing <c>localhost:&lt;port&gt;</c> (tcp4 first) from
/// a thread inside the pod's network namespace; in a <c>cc</c> pod nothing listens there, the pod's processes are in the
/// VM. The rule redirects every TCP connection made in that namespace to 127.0.0.1, on any port but the listener's own,
/// to the shim's listener on 127.0.0.1:<c>listenerPort</c>; the listener reads the port asked for from
/// <c>SO_ORIGINAL_DST</c> and opens it in the guest. OUTPUT only: locally generated packets, never traffic of the
/// pod network, which the tc mirror hands to the VM before netfilter sees it.
/// </summary>
/// <remarks>
/// IPv4 only: containerd dials tcp4 first and the redirected tcp4 dial always connects, so its tcp6 fallback is never
/// reached; the agent tries ::1 itself when 127.0.0.1 refuses (a guest server on IPv6 loopback only is still reached).
/// <c>-w</c>: a legacy-backend host serializes iptables on one lock file across namespaces; wait rather than fail.
/// </remarks>
public static class PortForwardRule
{
    public const string Table = "nat";

    public const string Chain = "OUTPUT";

    public static NetnsCommand Add(int listenerPort) => Command("-A", listenerPort);

    public static NetnsCommand Check(int listenerPort) => Command("-C", listenerPort);

    public static NetnsCommand Delete(int listenerPort) => Command("-D", listenerPort);

    private static NetnsCommand Command(string operation, int listenerPort)
    {
        var port = listenerPort.ToString(CultureInfo.InvariantCulture);
        return new NetnsCommand("iptables",
            ["-w", "5", "-t", Table, operation, Chain, "-d", "127.0.0.1/32", "-p", "tcp", "!", "--dport", port,
             "-j", "REDIRECT", "--to-ports", port]);
    }
}
