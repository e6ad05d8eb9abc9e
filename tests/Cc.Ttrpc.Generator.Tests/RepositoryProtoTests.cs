using System.Text.RegularExpressions;

namespace Cc.Ttrpc.Generator.Tests;

// The protos of this repository, as the protocol projects pass them: every rpc line becomes a binding entry and a
// client call under its wire name. (The projects' own tests then prove the generated code on the wire.)
public sealed partial class RepositoryProtoTests
{
    private static readonly string ApiRoot = Path.Combine(FindRepoRoot(), "api");

    [Theory]
    [InlineData("agent/v1/agent.proto", "cc.agent.v1.Agent", "Cc.Agent.Protocol", 28)]
    [InlineData("containerd/runtime/task/v2/shim.proto", "containerd.task.v2.Task", null, 17)]
    [InlineData("containerd/services/events/ttrpc/v1/events.proto", "containerd.services.events.ttrpc.v1.Events", null, 1)]
    public void Every_rpc_of_a_repository_proto_is_bound_and_callable_under_its_wire_name(string proto, string service,
        string? ns, int rpcs)
    {
        var text = File.ReadAllText(Path.Combine(ApiRoot, proto));
        var names = RpcLine().Matches(text).Select(m => m.Groups[1].Value).ToList();
        names.Count.ShouldBe(rpcs);

        var run = GeneratorRun.Of((Path.Combine(ApiRoot, proto), text, ns));

        run.GeneratorDiagnostics.ShouldBeEmpty();
        var source = run.Source(service + ".ttrpc.g.cs");
        source.ShouldContain($"public const string ServiceName = \"{service}\";");
        foreach (var name in names)
        {
            source.ShouldContain($">(\"{name}\", ");
            source.ShouldContain($"Connection.UnaryAsync(ServiceName, \"{name}\", ");
        }
    }

    [GeneratedRegex(@"^\s*rpc\s+(\w+)\s*\(", RegexOptions.Multiline)]
    private static partial Regex RpcLine();

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ShimV2.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("no ShimV2.sln above " + AppContext.BaseDirectory);
    }
}
