using Cc.Integration.Containerd.Harness;

namespace Cc.Integration.Containerd.Contract;

/// <summary>The contract against containerd's runc shim: proves the harness, the images and the host.</summary>
[Collection(ContainerdCollection.Name)]
[Trait("Category", "Containerd")]
public sealed class RuncBaselineTests(ContainerdFixture fixture) : RuntimeContract(fixture)
{
    private protected override RuntimeUnderTest Runtime => RuntimeUnderTest.Runc;
}
