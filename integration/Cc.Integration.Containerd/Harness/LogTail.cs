namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// A log another process is still writing (containerd's), read from a byte offset taken earlier: a test takes
/// <see cref="Length"/> before it acts and puts <see cref="Since"/> in its failure message.
/// </summary>
internal static class LogTail
{
    public static long Length(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    /// <summary>The last <paramref name="lines"/> lines of <paramref name="path"/> written after byte <paramref name="offset"/>.</summary>
    public static string Since(string path, long offset, int lines)
    {
        try
        {
            using var log = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            log.Seek(Math.Min(offset, log.Length), SeekOrigin.Begin);
            var all = new StreamReader(log).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
        }
        catch (IOException e)
        {
            return $"(cannot read {path}: {e.Message})";
        }
    }
}
