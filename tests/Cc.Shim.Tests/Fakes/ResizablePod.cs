using Cc.Shim.Sandbox;

namespace Cc.Shim.Tests.Fakes;

/// <summary>
/// The pod of the resize tests (VmResizeTests, VmGrowOnCreateTests): its VM runs container c1 (no limits), boots at
/// <see cref="Boot"/> and can grow to <see cref="Max"/> through a <see cref="FakeResize"/>, and the steps so far are
/// cleared, so a test's assertions see only what it caused.
/// </summary>
public static class ResizablePod
{
    public static readonly VmSize Boot = new(512, 1);
    public static readonly VmSize Max = new(4096, 4);

    public static async Task<(ShimHarness Shim, FakeResize Resize)> StartAsync()
    {
        var shim = await ShimHarness.StartAsync();
        await shim.CreateAsync("c1");
        var resize = new FakeResize(shim.Vm.Steps, Boot, Max);
        shim.Vm.Resize = resize;
        shim.Vm.Steps.Clear();
        return (shim, resize);
    }
}
