using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Cc.Ttrpc.Generator;

/// <summary>Errors in the protos surface as compiler errors at the .proto line, never as silently missing bindings.</summary>
internal static class Diagnostics
{
    public static readonly DiagnosticDescriptor UnreadableProto = new(
        "CCTTRPC001", "A .proto file could not be read", "{0}: {1}", "Cc.Ttrpc.Generator", DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownType = new(
        "CCTTRPC002", "An rpc names a message the generator cannot find",
        "rpc {0}.{1}: no message '{2}' in package '{3}' or an enclosing one; pass the .proto that declares it as an " +
        "AdditionalFiles item", "Cc.Ttrpc.Generator", DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static Location At(string path, int line)
    {
        var position = new LinePosition(line, 0);
        return Location.Create(path, default, new LinePositionSpan(position, position));
    }
}
