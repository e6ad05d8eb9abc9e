using System.Text;

namespace Cc.TestKit;

/// <summary>Hex strings for golden frames: whitespace is ignored, quoted ASCII (<c>"abc"</c>) is allowed inline.</summary>
public static class Hex
{
    public static byte[] Parse(string text)
    {
        var bytes = new List<byte>();
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '"')
            {
                int end = text.IndexOf('"', i + 1);
                bytes.AddRange(Encoding.ASCII.GetBytes(text[(i + 1)..end]));
                i = end + 1;
            }
            else
            {
                bytes.Add(Convert.ToByte(text.Substring(i, 2), 16));
                i += 2;
            }
        }

        return [.. bytes];
    }

    public static string Format(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);
}
