using Cc.Containerd.Protocol;
using Cc.Containerd.Protocol.Bootstrap;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Shim.Cli;

/// <summary>
/// What containerd wrote on <c>start</c>'s stdin: up to 2.2 the runtime options <see cref="Any"/> itself (or nothing),
/// from 2.3 a <see cref="BootstrapParams"/> whose extensions carry that Any (containerd-2x.md). Each form also decodes
/// as the other without error, so the bootstrap form is recognised only when its instance id and namespace equal the
/// <c>-id</c> and <c>-namespace</c> flags — the test containerd's own shims use.
/// </summary>
public sealed record StartInput(Any? RuntimeOptions, string? SocketDirectory, bool IsBootstrapParams)
{
    public static StartInput Parse(ReadOnlySpan<byte> stdin, string id, string ns)
    {
        if (stdin.IsEmpty)
        {
            return new StartInput(null, null, false);
        }
        if (TryBootstrap(stdin, id, ns) is { } bootstrap)
        {
            var options = bootstrap.Extensions.Select(e => e.Value).FirstOrDefault(IsRuntimeOptions);
            return new StartInput(options, bootstrap.HasSocketDir && bootstrap.SocketDir.Length > 0 ? bootstrap.SocketDir : null, true);
        }
        try
        {
            return new StartInput(Any.Parser.ParseFrom(stdin), null, false);
        }
        catch (InvalidProtocolBufferException)
        {
            // Neither form: nothing of ours in it. Create reports unusable options; start only needs the bootstrap form.
            return new StartInput(null, null, false);
        }
    }

    private static BootstrapParams? TryBootstrap(ReadOnlySpan<byte> stdin, string id, string ns)
    {
        try
        {
            var parsed = BootstrapParams.Parser.ParseFrom(stdin);
            return parsed.InstanceId == id && parsed.Namespace == ns && id.Length > 0 ? parsed : null;
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }
    }

    private static bool IsRuntimeOptions(Any? any) =>
        any is not null && TypeUrls.NameOf(any.TypeUrl) is TypeUrls.RuntimeOptions or TypeUrls.LegacyRuntimeOptions;
}
