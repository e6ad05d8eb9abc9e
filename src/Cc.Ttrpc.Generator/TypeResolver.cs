using System.Collections.Generic;

namespace Cc.Ttrpc.Generator;

/// <summary>
/// Resolves the message type names of rpc lines to fully qualified C# types, by protobuf's scoping rules: a name is
/// looked up in the referring file's package, then in each enclosing package, then at the root; a leading dot makes it
/// absolute. Every .proto given to the generator contributes its messages; google.protobuf's well-known types are
/// known without their files.
/// </summary>
internal sealed class TypeResolver
{
    private const string WellKnownPackage = "google.protobuf.";

    // Full proto name (package.Message or package.Outer.Inner) → C# type with global:: prefix.
    private readonly Dictionary<string, string> _types = new(System.StringComparer.Ordinal);

    public TypeResolver(IEnumerable<ProtoFile> files)
    {
        foreach (var file in files)
        {
            var prefix = file.Package.Length == 0 ? "" : file.Package + ".";
            foreach (var message in file.Messages.Items)
            {
                _types[prefix + message] = $"global::{file.MessageNamespace}.{Naming.NestedTypeName(message)}";
            }
        }
    }

    /// <summary>The C# type <paramref name="reference"/> names when written in <paramref name="package"/>, or null.</summary>
    public string? Resolve(string reference, string package)
    {
        if (reference.StartsWith(".", System.StringComparison.Ordinal))
        {
            return Lookup(reference.Substring(1));
        }

        var scope = package;
        while (true)
        {
            var candidate = scope.Length == 0 ? reference : scope + "." + reference;
            if (Lookup(candidate) is { } found)
            {
                return found;
            }

            if (scope.Length == 0)
            {
                return null;
            }

            var dot = scope.LastIndexOf('.');
            scope = dot < 0 ? "" : scope.Substring(0, dot);
        }
    }

    private string? Lookup(string fullName)
    {
        if (_types.TryGetValue(fullName, out var type))
        {
            return type;
        }

        // Grpc.Tools compiles the well-known types into Google.Protobuf itself, under this namespace.
        if (fullName.StartsWith(WellKnownPackage, System.StringComparison.Ordinal) &&
            fullName.IndexOf('.', WellKnownPackage.Length) < 0)
        {
            return "global::Google.Protobuf.WellKnownTypes." + fullName.Substring(WellKnownPackage.Length);
        }

        return null;
    }
}
