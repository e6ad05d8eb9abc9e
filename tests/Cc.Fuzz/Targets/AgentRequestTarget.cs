using Cc.Agent.Containers;
using Cc.Agent.Protocol.V1;
using Cc.Agent.Runtime;
using Google.Protobuf;

namespace Cc.Fuzz.Targets;

/// <summary>
/// The agent's handling of what the shim sends before anything runs in the guest: the request messages decoded from
/// their bytes, the ids checked, and the OCI documents they carry rewritten (config.json for CreateContainer, the
/// process for ExecProcess, the resources for UpdateContainer). The first input byte chooses the request kind.
/// Malformed input may only be an <see cref="AgentErrorException"/> (the agent answers InvalidArgument) or a protobuf
/// decode error (the ttrpc server answers it).
/// </summary>
internal sealed class AgentRequestTarget : IFuzzTarget
{
    public string Name => "agent";

    public IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        const string spec = """
            {"ociVersion":"1.1.0","process":{"args":["sh","-c","echo hi"],"cwd":"/","env":["PATH=/bin"],"terminal":false},
             "root":{"path":"rootfs"},"hostname":"pod","hooks":{"prestart":[{"path":"/bin/true"}]},
             "linux":{"namespaces":[{"type":"pid"},{"type":"network","path":"/var/run/netns/cni-1"},{"type":"ipc"}],
                      "resources":{"memory":{"limit":104857600}}}}
            """;
        yield return ("create", [0, .. new CreateContainerRequest
        {
            ContainerId = "c1",
            OciSpecJson = ByteString.CopyFromUtf8(spec),
            RootfsPath = "/run/cc/shared/containers/c1/rootfs",
            Stdio = new StdioOptions { Terminal = true },
        }.ToByteArray()]);
        yield return ("exec", [1, .. new ExecProcessRequest
        {
            ContainerId = "c1",
            ExecId = "e1",
            OciProcessJson = ByteString.CopyFromUtf8("""{"args":["ls","-l"],"env":["A=1"],"user":{"uid":1000,"gid":1000}}"""),
        }.ToByteArray()]);
        yield return ("update", [2, .. new UpdateContainerRequest
        {
            ContainerId = "c1",
            ResourcesJson = ByteString.CopyFromUtf8("""{"memory":{"limit":209715200},"cpu":{"quota":50000,"period":100000},"pids":{"limit":64}}"""),
        }.ToByteArray()]);
        yield return ("signal", [3, .. new SignalProcessRequest { ContainerId = "c1", ExecId = "e1", Signal = 15 }.ToByteArray()]);
    }

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }
        var body = input[1..];
        switch (input[0] % 4)
        {
            case 0:
                var create = CreateContainerRequest.Parser.ParseFrom(body);
                Ids.Validate(create.ContainerId, "container id");
                OciSpec.RewriteConfig(create.OciSpecJson.Span, "/run/cc/shared/containers/x/rootfs", create.Stdio?.Terminal ?? false);
                break;
            case 1:
                var exec = ExecProcessRequest.Parser.ParseFrom(body);
                Ids.Validate(exec.ContainerId, "container id");
                Ids.Validate(exec.ExecId, "exec id");
                OciSpec.RewriteProcess(exec.OciProcessJson.Span, exec.Stdio?.Terminal ?? false);
                break;
            case 2:
                var update = UpdateContainerRequest.Parser.ParseFrom(body);
                Ids.Validate(update.ContainerId, "container id");
                OciSpec.ValidateResources(update.ResourcesJson.Span);
                break;
            default:
                var signal = SignalProcessRequest.Parser.ParseFrom(body);
                Ids.Validate(signal.ContainerId, "container id");
                Ids.Validate(signal.ExecId, "exec id", allowEmpty: true);
                break;
        }
    }

    public bool IsExpected(Exception e) => e is AgentErrorException or InvalidProtocolBufferException;
}
