using Cc.Shim.Sandbox;

namespace Cc.Shim.Io;

/// <summary>What a stdio string from Create/Exec names (protocol.md §3.7.1, §3.7.2).</summary>
public abstract record StdioTarget
{
    private StdioTarget()
    {
    }

    /// <summary>"" — the stream is not connected.</summary>
    public sealed record None : StdioTarget;

    /// <summary>A FIFO the client created (a plain path, or <c>fifo://</c>).</summary>
    public sealed record Fifo(string Path) : StdioTarget;

    /// <summary><c>file:///abs/path</c>: stdout and stderr appended to one file.</summary>
    public sealed record File(string Path) : StdioTarget;

    /// <summary><c>binary:///abs/logger?k=v</c>: a logger process fed through pipes.</summary>
    public sealed record Binary(string Path, IReadOnlyList<string> Arguments) : StdioTarget;

    /// <summary>Parses a stdio string: a URL parser for schemes, an empty scheme meaning a FIFO path.</summary>
    public static StdioTarget Parse(string value)
    {
        if (value.Length == 0)
        {
            return new None();
        }
        var schemeEnd = value.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            return new Fifo(value);
        }
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            throw new InvalidRequestException($"invalid stdio URI {value}");
        }
        return uri.Scheme switch
        {
            "fifo" => new Fifo(Uri.UnescapeDataString(uri.AbsolutePath)),
            "file" => new File(Uri.UnescapeDataString(uri.AbsolutePath)),
            "binary" => new Binary(Uri.UnescapeDataString(uri.AbsolutePath), QueryArguments(uri.Query)),
            _ => throw new InvalidRequestException($"unknown STDIO scheme {uri.Scheme} in {value}"),
        };
    }

    /// <summary>The logger's argv: query pairs flattened in order, first value per key (the runc convention).</summary>
    private static List<string> QueryArguments(string query)
    {
        var result = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            if (seen.Add(key))
            {
                result.Add(key);
                result.Add(value);
            }
        }
        return result;
    }
}
