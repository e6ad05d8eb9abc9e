using System.Collections.Generic;
using System.Collections.Immutable;

namespace Cc.Ttrpc.Generator;

/// <summary>
/// Reads the part of a .proto file that ttrpc bindings depend on: <c>package</c>, <c>option csharp_namespace</c>, the
/// names of messages (nested ones as <c>Outer.Inner</c>, for type resolution) and each <c>service</c> with its
/// <c>rpc</c> lines. Fields, enums, imports and other options are skipped, so the parser stays small; what it cannot
/// follow becomes a <see cref="ProtoError"/>, reported as a compiler error rather than silently generating less.
/// </summary>
internal sealed class ProtoParser
{
    private readonly List<Token> _tokens;
    private readonly List<string> _messages = [];
    private readonly List<ProtoService> _services = [];
    private readonly List<ProtoError> _errors = [];
    private string _package = "";
    private string? _csharpNamespace;
    private int _next;

    private ProtoParser(string text) => _tokens = ProtoTokenizer.Tokenize(text);

    public static ProtoFile Parse(string path, string text, string? serviceNamespace = null)
    {
        var parser = new ProtoParser(text);
        parser.ParseFile();
        return new ProtoFile(path, parser._package, parser._csharpNamespace, serviceNamespace,
            parser._messages.ToImmutableArray(), parser._services.ToImmutableArray(), parser._errors.ToImmutableArray());
    }

    private bool AtEnd => _next >= _tokens.Count;

    private Token Current => AtEnd ? new Token(TokenKind.Symbol, "<end of file>", LastLine) : _tokens[_next];

    private int LastLine => _tokens.Count == 0 ? 0 : _tokens[_tokens.Count - 1].Line;

    private void ParseFile()
    {
        try
        {
            while (!AtEnd)
            {
                var keyword = Current;
                if (keyword.Is("package"))
                {
                    _next++;
                    _package = Expect(TokenKind.Identifier, "a package name").Text;
                    Expect(";");
                }
                else if (keyword.Is("option"))
                {
                    ParseFileOption();
                }
                else if (keyword.Is("message"))
                {
                    _next++;
                    ParseMessage(prefix: "");
                }
                else if (keyword.Is("service"))
                {
                    _next++;
                    ParseService();
                }
                else if (keyword.Is("syntax") || keyword.Is("edition") || keyword.Is("import") || keyword.Is("enum") ||
                         keyword.Is("extend") || keyword.Is(";"))
                {
                    SkipStatement();
                }
                else
                {
                    throw new ParseException($"unexpected '{keyword.Text}' at the top level", keyword.Line);
                }
            }
        }
        catch (ParseException e)
        {
            _errors.Add(new ProtoError(e.Message, e.Line));
        }
    }

    private void ParseFileOption()
    {
        _next++;
        var name = Current;
        if (name.Is("csharp_namespace"))
        {
            _next++;
            Expect("=");
            _csharpNamespace = Expect(TokenKind.String, "a quoted namespace").Text;
            Expect(";");
            return;
        }

        SkipStatement();
    }

    // After "message": the name, then a body in which only nested message declarations matter.
    private void ParseMessage(string prefix)
    {
        var name = prefix + Expect(TokenKind.Identifier, "a message name").Text;
        _messages.Add(name);
        Expect("{");
        while (!Current.Is("}"))
        {
            if (AtEnd)
            {
                throw new ParseException($"message {name} is not closed", LastLine);
            }

            // "message Name {" declares a nested type; "message" alone may also be a field's name ("string message = 1;").
            if (Current.Is("message") && Peek(1).Kind == TokenKind.Identifier && Peek(2).Is("{"))
            {
                _next++;
                ParseMessage(name + ".");
            }
            else if (Current.Is("{"))
            {
                SkipBlock();
            }
            else
            {
                _next++;
            }
        }

        _next++;
    }

    private void ParseService()
    {
        var header = Expect(TokenKind.Identifier, "a service name");
        Expect("{");
        var methods = new List<ProtoMethod>();
        while (!Current.Is("}"))
        {
            if (Current.Is("rpc"))
            {
                methods.Add(ParseRpc());
            }
            else if (Current.Is("option") || Current.Is(";"))
            {
                SkipStatement();
            }
            else
            {
                throw new ParseException($"unexpected '{Current.Text}' in service {header.Text}", Current.Line);
            }
        }

        _next++;
        _services.Add(new ProtoService(header.Text, methods.ToImmutableArray(), header.Line));
    }

    // rpc Name ( [stream] Request ) returns ( [stream] Response ) ; | { options }
    private ProtoMethod ParseRpc()
    {
        _next++;
        var name = Expect(TokenKind.Identifier, "an rpc name");
        Expect("(");
        var clientStreaming = TryTake("stream");
        var request = Expect(TokenKind.Identifier, "a request type").Text;
        Expect(")");
        Expect("returns");
        Expect("(");
        var serverStreaming = TryTake("stream");
        var response = Expect(TokenKind.Identifier, "a response type").Text;
        Expect(")");
        if (Current.Is("{"))
        {
            SkipBlock();
        }
        else
        {
            Expect(";");
        }

        return new ProtoMethod(name.Text, request, clientStreaming, response, serverStreaming, name.Line);
    }

    // A statement ends at ';' outside braces, or with its own block ("enum E { ... }", "option x = { ... };" is ';').
    private void SkipStatement()
    {
        while (!AtEnd)
        {
            if (Current.Is(";"))
            {
                _next++;
                return;
            }

            if (Current.Is("{"))
            {
                SkipBlock();
                if (!Current.Is(";"))
                {
                    return;
                }
            }
            else
            {
                _next++;
            }
        }
    }

    private void SkipBlock()
    {
        var open = Expect("{");
        var depth = 1;
        while (depth > 0)
        {
            if (AtEnd)
            {
                throw new ParseException("a '{' is not closed", open.Line);
            }

            depth += Current.Is("{") ? 1 : Current.Is("}") ? -1 : 0;
            _next++;
        }
    }

    private Token Peek(int ahead) =>
        _next + ahead < _tokens.Count ? _tokens[_next + ahead] : new Token(TokenKind.Symbol, "<end of file>", LastLine);

    private bool TryTake(string text)
    {
        // "stream" is also a valid type name: it is the keyword only when a type follows it.
        if (Current.Is(text) && Peek(1).Kind == TokenKind.Identifier)
        {
            _next++;
            return true;
        }

        return false;
    }

    private Token Expect(string text)
    {
        var token = Current;
        if (!token.Is(text))
        {
            throw new ParseException($"expected '{text}', found '{token.Text}'", token.Line);
        }

        _next++;
        return token;
    }

    private Token Expect(TokenKind kind, string what)
    {
        var token = Current;
        if (AtEnd || token.Kind != kind)
        {
            throw new ParseException($"expected {what}, found '{token.Text}'", token.Line);
        }

        _next++;
        return token;
    }

    private sealed class ParseException(string message, int line) : System.Exception(message)
    {
        public int Line { get; } = line;
    }
}
