using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Cc.Ttrpc.Server;

/// <summary>Looks up service and method names straight from a frame's UTF-8 bytes, so a call allocates no name strings.</summary>
internal static class NameLookup
{
    private const int StackLimit = 256;

    public static bool TryFind<T>(Dictionary<string, T> table, Dictionary<string, T>.AlternateLookup<ReadOnlySpan<char>> bySpan,
        ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out string? key, [MaybeNullWhen(false)] out T value)
    {
        if (utf8.Length > StackLimit)
        {
            string name = Encoding.UTF8.GetString(utf8);
            if (table.TryGetValue(name, out value))
            {
                key = name;
                return true;
            }

            key = null;
            return false;
        }

        Span<char> chars = stackalloc char[StackLimit];
        int length = Encoding.UTF8.GetChars(utf8, chars);
        if (bySpan.TryGetValue(chars[..length], out key, out value))
        {
            return true;
        }

        key = null;
        return false;
    }
}
