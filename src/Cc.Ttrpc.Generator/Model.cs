using System;
using System.Collections.Immutable;

namespace Cc.Ttrpc.Generator;

// What the generator needs of a .proto file, and nothing more: the package, the C# namespace protoc gives its
// messages, the names of its messages (to resolve rpc types) and its services. Records with EquatableArray so the
// incremental pipeline can tell an unchanged file from a changed one by value.

/// <summary>One parsed .proto file. <see cref="Path"/> is the AdditionalFiles path, for diagnostics and hint names.</summary>
internal sealed record ProtoFile(
    string Path,
    string Package,
    string? CSharpNamespace,
    string? ServiceNamespace,
    EquatableArray<string> Messages,
    EquatableArray<ProtoService> Services,
    EquatableArray<ProtoError> Errors)
{
    /// <summary>The namespace protoc's C# generator puts this file's messages in.</summary>
    public string MessageNamespace => CSharpNamespace ?? Naming.DefaultNamespace(Package);

    /// <summary>Where the service interface, binding and client go: the TtrpcNamespace metadata, else the messages'.</summary>
    public string GeneratedNamespace => ServiceNamespace ?? MessageNamespace;
}

/// <summary>A <c>service</c> block. <see cref="Line"/> is zero-based.</summary>
internal sealed record ProtoService(string Name, EquatableArray<ProtoMethod> Methods, int Line);

/// <summary>
/// An <c>rpc</c> line. The types are as written in the proto (relative, qualified or with a leading dot); the
/// <c>stream</c> keywords select one of ttrpc's four call shapes.
/// </summary>
internal sealed record ProtoMethod(string Name, string RequestType, bool ClientStreaming, string ResponseType,
    bool ServerStreaming, int Line);

/// <summary>A construct the subset parser does not understand, at a zero-based line.</summary>
internal sealed record ProtoError(string Message, int Line);

/// <summary>An immutable array that compares by its elements, as the incremental pipeline's caching needs.</summary>
internal readonly struct EquatableArray<T>(ImmutableArray<T> items) : IEquatable<EquatableArray<T>>
    where T : IEquatable<T>
{
    public ImmutableArray<T> Items => items.IsDefault ? ImmutableArray<T>.Empty : items;

    public bool Equals(EquatableArray<T> other)
    {
        ImmutableArray<T> mine = Items, theirs = other.Items;
        if (mine.Length != theirs.Length)
        {
            return false;
        }

        for (var i = 0; i < mine.Length; i++)
        {
            if (!mine[i].Equals(theirs[i]))
            {
                return false;
            }
        }

        return true;
    }

    public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

    public override int GetHashCode()
    {
        var hash = 17;
        foreach (var item in Items)
        {
            hash = unchecked((hash * 31) + (item?.GetHashCode() ?? 0));
        }

        return hash;
    }

    public static implicit operator EquatableArray<T>(ImmutableArray<T> items) => new(items);
}
