using Cc.Agent.Containers;

namespace Cc.Agent.Tests;

/// <summary>The guest's container lifecycle table (ContainerStateMachine), on its own.</summary>
public sealed class ContainerStateTests
{
    private static readonly HashSet<(ContainerState, ContainerState)> Allowed =
    [
        (ContainerState.Creating, ContainerState.Created),
        (ContainerState.Created, ContainerState.Running),
        (ContainerState.Running, ContainerState.Created),
        (ContainerState.Created, ContainerState.Stopped),
        (ContainerState.Running, ContainerState.Paused),
        (ContainerState.Paused, ContainerState.Running),
        (ContainerState.Running, ContainerState.Stopped),
        (ContainerState.Paused, ContainerState.Stopped),
        (ContainerState.Created, ContainerState.Removed),
        (ContainerState.Running, ContainerState.Removed),
        (ContainerState.Paused, ContainerState.Removed),
        (ContainerState.Stopped, ContainerState.Removed),
    ];

    [Fact]
    public void The_table_allows_exactly_the_documented_moves()
    {
        foreach (var from in Enum.GetValues<ContainerState>())
        {
            foreach (var to in Enum.GetValues<ContainerState>())
            {
                ContainerStateMachine.Allows(from, to).ShouldBe(Allowed.Contains((from, to)), $"{from} => {to}");
            }
        }
    }

    [Fact]
    public void A_move_the_table_lacks_is_the_one_FailedPrecondition_transition_error()
    {
        var error = Should.Throw<AgentErrorException>(() =>
            ContainerStateMachine.Check(ContainerState.Stopped, ContainerState.Running, "c1"));

        error.Kind.ShouldBe(AgentErrorKind.FailedPrecondition);
        error.Message.ShouldBe("invalid state transition: Stopped => Running (container c1)");
    }

    [Fact]
    public void A_container_changes_state_only_through_the_table()
    {
        var container = new Container("c1", "/nonexistent");
        container.MoveTo(ContainerState.Created);
        container.MoveTo(ContainerState.Running);

        Should.Throw<AgentErrorException>(() => container.MoveTo(ContainerState.Running))
            .Message.ShouldStartWith("invalid state transition: Running => Running");
        container.State.ShouldBe(ContainerState.Running);
        container.MoveTo(ContainerState.Removed);
        Should.Throw<AgentErrorException>(() => container.MoveTo(ContainerState.Removed));
    }
}
