using System.Collections.Generic;
using System.Text;

namespace Cc.Ttrpc.Generator;

internal enum TokenKind
{
    /// <summary>A name, possibly dotted or fully qualified: <c>rpc</c>, <c>containerd.task.v2.StateRequest</c>, <c>.a.B</c>.</summary>
    Identifier,

    /// <summary>A quoted literal, unescaped.</summary>
    String,

    /// <summary>Anything else, one character at a time (<c>{ } ( ) ; = &lt; &gt; , [ ]</c>), or a number.</summary>
    Symbol,
}

/// <summary>A token and its zero-based line.</summary>
internal readonly record struct Token(TokenKind Kind, string Text, int Line)
{
    public bool Is(string text) => Kind != TokenKind.String && Text == text;
}

/// <summary>
/// Splits proto source into tokens, dropping whitespace and both comment forms. Good enough for the declarations the
/// generator reads; protoc has already validated the file by the time this runs (Grpc.Tools compiles it first).
/// </summary>
internal static class ProtoTokenizer
{
    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var line = 0;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '\n')
            {
                line++;
                i++;
            }
            else if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '/' && At(text, i + 1) == '/')
            {
                while (i < text.Length && text[i] != '\n')
                {
                    i++;
                }
            }
            else if (c == '/' && At(text, i + 1) == '*')
            {
                i += 2;
                while (i < text.Length && !(text[i] == '*' && At(text, i + 1) == '/'))
                {
                    line += text[i] == '\n' ? 1 : 0;
                    i++;
                }

                i += 2;
            }
            else if (c is '"' or '\'')
            {
                var start = line;
                tokens.Add(new Token(TokenKind.String, ReadString(text, ref i, ref line), start));
            }
            else if (IsNameStart(c) || (c == '.' && IsNameStart(At(text, i + 1))))
            {
                var start = i;
                i++;
                while (i < text.Length && (IsNamePart(text[i]) || text[i] == '.'))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Identifier, text.Substring(start, i - start), line));
            }
            else if (char.IsDigit(c))
            {
                var start = i;
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '.'))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Symbol, text.Substring(start, i - start), line));
            }
            else
            {
                tokens.Add(new Token(TokenKind.Symbol, c.ToString(), line));
                i++;
            }
        }

        return tokens;
    }

    private static string ReadString(string text, ref int i, ref int line)
    {
        var quote = text[i++];
        var value = new StringBuilder();
        while (i < text.Length && text[i] != quote)
        {
            if (text[i] == '\\' && i + 1 < text.Length)
            {
                i++;
            }

            line += text[i] == '\n' ? 1 : 0;
            value.Append(text[i++]);
        }

        i++;
        return value.ToString();
    }

    private static char At(string text, int i) => i < text.Length ? text[i] : '\0';

    private static bool IsNameStart(char c) => c == '_' || (c is >= 'a' and <= 'z') || (c is >= 'A' and <= 'Z');

    private static bool IsNamePart(char c) => IsNameStart(c) || (c is >= '0' and <= '9');
}
