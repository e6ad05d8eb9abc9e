using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Containerd.Protocol;

/// <summary>
/// <c>google.protobuf.Any</c> as containerd writes and reads it (protocol.md §3.5.3, pitfall 6): the type URL is the bare
/// full message name ("containerd.events.TaskExit"), never "type.googleapis.com/…". The C# runtime's
/// <c>Any.Pack</c> adds that prefix and its <c>Unpack/Is</c> cannot match a bare name, so every Any that crosses
/// the containerd boundary goes through here instead.
/// </summary>
public static class TypeUrls
{
    /// <summary>The prefix C# and Go's anypb write; tolerated when reading, never written.</summary>
    public const string GooglePrefix = "type.googleapis.com/";

    /// <summary>ExecProcessRequest.spec: JSON of the OCI runtime-spec Process object.</summary>
    public const string OciProcess = "types.containerd.io/opencontainers/runtime-spec/1/Process";

    /// <summary>UpdateTaskRequest.resources: JSON of OCI LinuxResources.</summary>
    public const string OciLinuxResources = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";

    public const string RuntimeOptions = "runtimeoptions.v1.Options";

    /// <summary>containerd 1.7 CRI could send the legacy name of the same message (kata accepts it too).</summary>
    public const string LegacyRuntimeOptions = "cri-containerd.runtimeoptions.v1.Options";

    public const string RuncOptions = "containerd.runc.v1.Options";

    public const string CgroupsV2Metrics = "io.containerd.cgroups.v2.Metrics";

    /// <summary>The bare type URL of <paramref name="descriptor"/>: its full name.</summary>
    public static string Of(MessageDescriptor descriptor) => descriptor.FullName;

    /// <summary>Packs with a bare type URL.</summary>
    public static Any Pack(IMessage message) =>
        new() { TypeUrl = message.Descriptor.FullName, Value = message.ToByteString() };

    /// <summary>Packs bytes that are not protobuf (the OCI JSON payloads) under an explicit type URL.</summary>
    public static Any PackRaw(string typeUrl, ByteString value) => new() { TypeUrl = typeUrl, Value = value };

    /// <summary>The name part of a type URL: everything after the last '/' when a prefix is present, else all of it.</summary>
    public static string NameOf(string typeUrl)
    {
        // Bare containerd names for OCI types contain '/' themselves; only the googleapis prefix is stripped.
        return typeUrl.StartsWith(GooglePrefix, StringComparison.Ordinal) ? typeUrl[GooglePrefix.Length..] : typeUrl;
    }

    /// <summary>True when <paramref name="any"/> carries <paramref name="descriptor"/>'s message, bare or prefixed.</summary>
    public static bool Is(Any any, MessageDescriptor descriptor) =>
        string.Equals(NameOf(any.TypeUrl), descriptor.FullName, StringComparison.Ordinal);

    /// <summary>Unpacks when the type matches; false (and default) otherwise. Malformed bytes throw.</summary>
    public static bool TryUnpack<T>(Any? any, MessageParser<T> parser, MessageDescriptor descriptor, out T message)
        where T : IMessage<T>
    {
        if (any is not null && Is(any, descriptor))
        {
            message = parser.ParseFrom(any.Value);
            return true;
        }
        message = default!;
        return false;
    }
}
