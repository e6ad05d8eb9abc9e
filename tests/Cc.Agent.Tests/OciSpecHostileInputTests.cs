using System.Text;
using Cc.Agent.Containers;
using Cc.Agent.Runtime;

namespace Cc.Agent.Tests;

/// <summary>
/// Documents the shim sends that System.Text.Json accepts at parse time but fails on later, when a member is read
/// (found by the agent fuzz target, tests/Cc.Fuzz): each must be bad input (InvalidArgument), not an internal error.
/// </summary>
public sealed class OciSpecHostileInputTests
{
    [Fact]
    public void Invalid_utf8_inside_a_string_is_bad_input()
    {
        var json = Encoding.UTF8.GetBytes("""{"memory":{"limit":1},"cpu":{"x":"?"}}""");
        json[Array.LastIndexOf(json, (byte)'?')] = 0xF4; // a lead byte with no continuation

        Should.Throw<AgentErrorException>(() => OciSpec.ValidateResources(json)).Kind.ShouldBe(AgentErrorKind.InvalidArgument);
    }

    [Fact]
    public void Invalid_utf8_in_a_member_name_is_bad_input()
    {
        var json = Encoding.UTF8.GetBytes("""{"process":{"args":["sh"]},"?":1}""");
        json[Array.LastIndexOf(json, (byte)'?')] = 0xC3;

        Should.Throw<AgentErrorException>(() => OciSpec.RewriteConfig(json, "/rootfs", terminal: false))
            .Kind.ShouldBe(AgentErrorKind.InvalidArgument);
    }

    [Fact]
    public void A_duplicate_member_name_is_bad_input()
    {
        var json = Encoding.UTF8.GetBytes("""{"args":["ls"],"cwd":"/","cwd":"/tmp"}""");

        Should.Throw<AgentErrorException>(() => OciSpec.RewriteProcess(json, terminal: false))
            .Kind.ShouldBe(AgentErrorKind.InvalidArgument);
    }
}
