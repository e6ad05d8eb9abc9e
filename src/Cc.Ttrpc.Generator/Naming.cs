using System.Text;

namespace Cc.Ttrpc.Generator;

/// <summary>The names protoc's C# generator gives, so generated bindings name the same types it does.</summary>
internal static class Naming
{
    /// <summary>
    /// The C# namespace of a package without <c>option csharp_namespace</c>: each dotted part in PascalCase with
    /// underscores dropped (<c>foo_bar.v1</c> → <c>FooBar.V1</c>), as protoc's <c>GetFileNamespace</c> does.
    /// </summary>
    public static string DefaultNamespace(string package)
    {
        var result = new StringBuilder(package.Length);
        var upper = true;
        foreach (var c in package)
        {
            if (c == '_')
            {
                upper = true;
            }
            else if (c == '.')
            {
                result.Append('.');
                upper = true;
            }
            else
            {
                result.Append(upper ? char.ToUpperInvariant(c) : c);
                upper = false;
            }
        }

        return result.ToString();
    }

    /// <summary>
    /// A message's C# type relative to its namespace: nested messages live in their parent's <c>Types</c> class
    /// (<c>Outer.Inner</c> → <c>Outer.Types.Inner</c>).
    /// </summary>
    public static string NestedTypeName(string relativeName) => relativeName.Replace(".", ".Types.");
}
