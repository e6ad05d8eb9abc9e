namespace System.Runtime.CompilerServices;

// netstandard2.0 lacks the marker type that records' init accessors need; the compiler only looks it up by name.
internal static class IsExternalInit;
