using System.Text;

namespace Cc.Shim.Cli;

/// <summary>Files the shim reads and writes in a task bundle (protocol.md §2.2).</summary>
public static class BundleFiles
{
    /// <summary>The ttrpc address containerd 1.6/1.7 reconnect to after a restart; written by the shim in every bundle.</summary>
    public const string Address = "address";

    /// <summary>The FIFO containerd copies into its own log; the daemon's stderr.</summary>
    public const string Log = "log";

    public const string Spec = "config.json";

    /// <summary>
    /// Writes <paramref name="name"/> in <paramref name="bundle"/> by temp file + rename, so a reader (containerd after
    /// a restart, a second <c>start</c> of the pod) never sees a half-written file.
    /// </summary>
    public static void WriteAtomically(string bundle, string name, string content)
    {
        var final = Path.Combine(bundle, name);
        var temp = Path.Combine(bundle, "." + name + ".tmp");
        File.WriteAllBytes(temp, Encoding.UTF8.GetBytes(content));
        File.Move(temp, final, overwrite: true);
    }

    public static string? ReadAddress(string bundle)
    {
        var path = Path.Combine(bundle, Address);
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }
}
