using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Cc.Ttrpc;

/// <summary>
/// The address forms both the server and the client accept:
/// <c>unix:///run/x.sock</c> and <c>/run/x.sock</c> (filesystem unix socket), <c>@name</c> and
/// <c>unix://@name</c> (Linux abstract socket), <c>vsock://cid:port</c> (AF_VSOCK).
/// </summary>
public static class TtrpcAddress
{
    private const string UnixScheme = "unix://";
    private const string VsockScheme = "vsock://";

    /// <summary>Parses <paramref name="address"/> into an endpoint; anything else is an ArgumentException naming it.</summary>
    public static EndPoint Parse(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        string rest = address;
        if (rest.StartsWith(VsockScheme, StringComparison.Ordinal))
        {
            return ParseVsock(address, rest[VsockScheme.Length..]);
        }

        if (rest.StartsWith(UnixScheme, StringComparison.Ordinal))
        {
            rest = rest[UnixScheme.Length..];
        }

        if (rest.Length > 1 && rest[0] == '@')
        {
            // Linux abstract namespace: the kernel name starts with a NUL byte and is not a file.
            return new UnixDomainSocketEndPoint("\0" + rest[1..]);
        }

        if (rest.Length > 1 && rest[0] == '/')
        {
            return new UnixDomainSocketEndPoint(rest);
        }

        throw new ArgumentException(
            $"ttrpc: unsupported address \"{address}\" (expected unix:///path, /path, @abstract or vsock://cid:port)",
            nameof(address));
    }

    /// <summary>The filesystem path of a unix socket address, or null for abstract and vsock addresses.</summary>
    public static string? FilePath(EndPoint endPoint) =>
        endPoint is UnixDomainSocketEndPoint unix && unix.ToString() is { Length: > 0 } path && path[0] == '/'
            ? path
            : null;

    private static VsockEndPoint ParseVsock(string address, string rest)
    {
        int colon = rest.IndexOf(':', StringComparison.Ordinal);
        if (colon > 0
            && uint.TryParse(rest.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out uint cid)
            && uint.TryParse(rest.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint port))
        {
            return new VsockEndPoint(cid, port);
        }

        throw new ArgumentException($"ttrpc: invalid vsock address \"{address}\" (expected vsock://cid:port)", nameof(address));
    }

    /// <summary>A stream socket of the endpoint's family, with a clear error when the kernel or runtime lacks it.</summary>
    internal static Socket CreateSocket(EndPoint endPoint)
    {
        try
        {
            return new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Unspecified);
        }
        catch (Exception ex) when (endPoint is VsockEndPoint && ex is SocketException or NotSupportedException)
        {
            throw new NotSupportedException(
                $"ttrpc: AF_VSOCK ({VsockEndPoint.AfVsock}) sockets are not available here ({ex.Message}); " +
                "a vsock transport needs the vsock kernel modules (vhost-vsock on the host)", ex);
        }
    }
}
