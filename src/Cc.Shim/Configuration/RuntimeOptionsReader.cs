using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.RuntimeOptions;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Shim.Configuration;

/// <summary>
/// Reads the runtime options Any containerd sends on <c>start</c>'s stdin and in CreateTaskRequest.options
/// (protocol.md §3.9): <c>runtimeoptions.v1.Options</c> (or its legacy CRI name) gives ConfigPath or ConfigBody; runc
/// options and unknown types carry nothing for us and are reported as such, not guessed at.
/// </summary>
public static class RuntimeOptionsReader
{
    public sealed record Result(string? ConfigPath, byte[] ConfigBody, string? IgnoredTypeUrl);

    public static Result Read(Any? options)
    {
        if (options is null || (options.TypeUrl.Length == 0 && options.Value.IsEmpty))
        {
            return new Result(null, [], null);
        }
        var name = TypeUrls.NameOf(options.TypeUrl);
        if (name is TypeUrls.RuntimeOptions or TypeUrls.LegacyRuntimeOptions)
        {
            var parsed = Options.Parser.ParseFrom(options.Value);
            return new Result(parsed.ConfigPath.Length > 0 ? parsed.ConfigPath : null, parsed.ConfigBody.ToByteArray(), null);
        }
        return new Result(null, [], options.TypeUrl);
    }
}
