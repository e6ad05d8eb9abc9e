using System.Security.Cryptography;
using System.Text;

namespace Cc.Shim.Cli;

/// <summary>
/// The shim socket naming convention of the reference shims (protocol.md §2.4.1):
/// <c>unix:///run/containerd/s/ + hex(sha256(path.Join(grpcAddress, namespace, groupId)))</c>. containerd never
/// computes it; it matters so that every <c>start</c> of one pod finds the same socket.
/// </summary>
public static class SocketAddress
{
    /// <summary>Hard-coded by convention (containerd's default state dir), whatever containerd's state dir is.</summary>
    public const string DefaultDirectory = "/run/containerd/s";

    /// <summary>sun_path holds 108 bytes including the NUL.</summary>
    public const int MaxPathBytes = 107;

    public static string SocketPath(string grpcAddress, string ns, string groupId, string directory = DefaultDirectory)
    {
        var input = GoPath.Join(grpcAddress, ns, groupId);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(input)));
        var path = directory.TrimEnd('/') + "/" + hash;
        if (Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
        {
            throw new InvalidOperationException($"socket path {path} is longer than a unix socket path may be");
        }
        return path;
    }

    /// <summary>The printed form. The scheme is mandatory: containerd dials an address without it as an abstract socket.</summary>
    public static string ToAddress(string socketPath) => "unix://" + socketPath;

    /// <summary>The path of a <c>unix://</c> address; other forms are not ours to serve.</summary>
    public static string PathOf(string address) =>
        address.StartsWith("unix://", StringComparison.Ordinal)
            ? address["unix://".Length..]
            : throw new ArgumentException($"not a unix:// address: {address}", nameof(address));
}
