namespace Cc.Integration.Cri.Harness;

// The tests' assertion over PodLeftovers, apart from the checks themselves: Cc.Bench (cri-stress) links the checks and
// has no Shouldly.
internal static partial class PodLeftovers
{
    /// <summary>Asserts that nothing of the pod is left within 15 s of its removal (<see cref="AfterRemovalAsync"/>).</summary>
    public static async Task ShouldBeGoneAsync(CriContainerd containerd, CriPod pod, IReadOnlyCollection<string> containers,
        IReadOnlySet<int> qemuBefore)
    {
        var left = await AfterRemovalAsync(containerd, pod.Id, containers, pod.NetworkNamespace, qemuBefore, TimeSpan.FromSeconds(15));
        left.ShouldBeEmpty(string.Join('\n', left));
    }
}
