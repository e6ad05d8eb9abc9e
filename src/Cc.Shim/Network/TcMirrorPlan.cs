using System.Globalization;

namespace Cc.Shim.Network;

/// <summary>An iproute2 command (<c>ip</c> or <c>tc</c>) to run inside the pod's network namespace.</summary>
public sealed record NetnsCommand(string Program, IReadOnlyList<string> Arguments)
{
    public override string ToString() => Program + " " + string.Join(' ', Arguments);
}

/// <summary>One namespace interface that the guest gets a copy of, and the tap that carries its frames.</summary>
public sealed record MirroredInterface(NetnsInterface Interface, string TapName);

/// <summary>
/// Kata's tc-mirroring model written down as commands (pure: the same interfaces give the same plan). For each
/// mirrored interface, an ingress qdisc on the interface and on its tap, and on each a u32 filter that matches every
/// frame and redirects it out of the other device: what arrives on the veth from the pod network leaves through the
/// tap into QEMU, what the guest sends arrives on the tap and leaves through the veth. The veth keeps its addresses,
/// which nothing in the namespace uses any more (the guest answers for them, with the same MAC).
/// </summary>
public static class TcMirrorPlan
{
    /// <summary>Our taps end with this, so no interface of ours is ever mistaken for one of CNI's.</summary>
    public const string TapSuffix = "_cc";

    /// <summary>The ingress qdisc's fixed handle (tc's convention, ffff:), which the filters name as their parent.</summary>
    public const string IngressHandle = "ffff:";

    public static string TapName(int index) => string.Create(CultureInfo.InvariantCulture, $"tap{index}{TapSuffix}");

    /// <summary>
    /// The interfaces to mirror, each with its tap name: every ethernet interface (CNI's veth, or any other ethernet
    /// device it moved in) with a MAC, in the order ip lists them. Loopback stays the namespace's own: the guest has
    /// its own. Taps of ours left by an earlier attempt are never mirrored.
    /// </summary>
    public static IReadOnlyList<MirroredInterface> Select(IReadOnlyList<NetnsInterface> interfaces) =>
        [.. interfaces
            .Where(i => i.LinkType == "ether" && i.MacAddress.Length > 0 && !i.Name.EndsWith(TapSuffix, StringComparison.Ordinal))
            .Select((i, index) => new MirroredInterface(i, TapName(index)))];

    /// <summary>After the tap exists (TapDevice.Create): bring it up with the interface's MTU, then the redirects.</summary>
    public static IReadOnlyList<NetnsCommand> SetUp(MirroredInterface mirrored)
    {
        var veth = mirrored.Interface.Name;
        var tap = mirrored.TapName;
        return
        [
            Ip("link", "set", "dev", tap, "mtu", mirrored.Interface.Mtu.ToString(CultureInfo.InvariantCulture), "up"),
            Tc("qdisc", "add", "dev", veth, "handle", IngressHandle, "ingress"),
            Redirect(veth, tap),
            Tc("qdisc", "add", "dev", tap, "handle", IngressHandle, "ingress"),
            Redirect(tap, veth),
        ];
    }

    /// <summary>
    /// Undoes <see cref="SetUp"/> for what is still there: the veth's ingress qdisc (its filters go with it) and the
    /// tap (with its own qdisc). The veth itself is CNI's and stays until CNI DEL.
    /// </summary>
    public static IReadOnlyList<NetnsCommand> TearDown(string veth, string tap, bool vethHasIngress, bool tapExists)
    {
        List<NetnsCommand> commands = [];
        if (vethHasIngress)
        {
            commands.Add(Tc("qdisc", "del", "dev", veth, "handle", IngressHandle, "ingress"));
        }
        if (tapExists)
        {
            commands.Add(Ip("link", "del", "dev", tap));
        }
        return commands;
    }

    private static NetnsCommand Redirect(string from, string to) =>
        Tc("filter", "add", "dev", from, "parent", IngressHandle, "protocol", "all",
            "u32", "match", "u8", "0", "0", "action", "mirred", "egress", "redirect", "dev", to);

    private static NetnsCommand Ip(params string[] arguments) => new("ip", arguments);

    private static NetnsCommand Tc(params string[] arguments) => new("tc", arguments);
}
