using Cc.Containerd.Protocol.Types;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Shim.Cli;

/// <summary>
/// <c>-info</c> (containerd 2.x, protocol.md §2.10): options <c>Any</c> on stdin (or nothing), a <c>RuntimeInfo</c>
/// protobuf on stdout. We announce no OCI features, which containerd reads as "no optional features".
/// </summary>
public static class InfoCommand
{
    public static byte[] Run(ReadOnlySpan<byte> stdin)
    {
        var info = new RuntimeInfo
        {
            Name = ShimVersion.RuntimeName,
            Version = new RuntimeVersion { Version = ShimVersion.Version },
        };
        if (!stdin.IsEmpty)
        {
            // Echoed as containerd sent it; an unparsable body is a caller error worth failing on.
            info.Options = Any.Parser.ParseFrom(stdin);
        }
        return info.ToByteArray();
    }
}
