using System.Text;

namespace Cc.Shim.Cli;

/// <summary>
/// Go's <c>path/filepath.Join</c> and <c>Clean</c> for '/' paths: the socket hash must see exactly the string Go shims
/// hash, or two shims of one pod (ours and a restarted one) would disagree on the socket.
/// </summary>
internal static class GoPath
{
    public static string Join(params string[] parts)
    {
        var nonEmpty = parts.Where(p => p.Length > 0).ToArray();
        return nonEmpty.Length == 0 ? "" : Clean(string.Join('/', nonEmpty));
    }

    public static string Clean(string path)
    {
        if (path.Length == 0)
        {
            return ".";
        }
        var rooted = path[0] == '/';
        var output = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part.Length == 0 || part == ".")
            {
                continue;
            }
            if (part == "..")
            {
                if (output.Count > 0 && output[^1] != "..")
                {
                    output.RemoveAt(output.Count - 1);
                }
                else if (!rooted)
                {
                    output.Add("..");
                }
                continue;
            }
            output.Add(part);
        }
        var sb = new StringBuilder();
        if (rooted)
        {
            sb.Append('/');
        }
        sb.AppendJoin('/', output);
        return sb.Length == 0 ? "." : sb.ToString();
    }
}
