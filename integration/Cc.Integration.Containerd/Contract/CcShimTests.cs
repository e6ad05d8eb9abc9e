using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

/// <summary>
/// The same contract against our runtime, io.containerd.cc.v2: whatever build/bin/containerd-shim-cc-v2
/// is. These tests fail, with the ctr output and containerd's log, until the shim works; the trait lets
/// hack/run-tests.sh decide whether they gate CI (`--filter Category=Shim` / `Category!=Shim`).
/// </summary>
[Collection(ContainerdCollection.Name)]
[Trait("Category", "Shim")]
public sealed partial class CcShimTests(ContainerdFixture fixture) : RuntimeContract(fixture)
{
    private protected override RuntimeUnderTest Runtime => RuntimeUnderTest.Cc;
}
