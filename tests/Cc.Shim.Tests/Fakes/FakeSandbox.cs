using System.Collections.Concurrent;
using Cc.Shim.Events;
using Cc.Shim.Sandbox;
using Cc.TestKit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Shim.Tests.Fakes;

/// <summary>
/// A <see cref="PodSandbox"/> over a <see cref="FakeEngine"/>, for tests at the domain seam (below the Task API): a
/// temporary root with the run directory and bundles, the events it publishes recorded. Disposal stops the sandbox and
/// removes the root.
/// </summary>
internal sealed class FakeSandbox : IAsyncDisposable
{
    private FakeSandbox(string root, string ns)
    {
        Root = root;
        Sandbox = new PodSandbox(new SandboxOptions(ns, "sandbox1", Path.Combine(root, "run")), Engine, Engine, Events,
            TimeProvider.System, NullLogger<PodSandbox>.Instance);
    }

    public string Root { get; }
    public FakeEngine Engine { get; } = new();
    public RecordingPublisher Events { get; } = new();
    public PodSandbox Sandbox { get; }

    public static FakeSandbox Start(string ns = "k8s.io") => new(Directory.CreateTempSubdirectory("cc-sandbox-test-").FullName, ns);

    /// <summary>Creates container <paramref name="id"/> from a fresh bundle, no stdio; the first boots the fake VM.</summary>
    public Task<uint> CreateAsync(string id) =>
        Sandbox.CreateAsync(new CreateContainerRequest(id, ShimHarness.NewBundle(Root, id), [], StdioSpec.None), CancellationToken.None)
            .WithTimeout();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Sandbox.DisposeAsync();
        }
        finally
        {
            Directory.Delete(Root, recursive: true);
        }
    }

    /// <summary>Keeps every event the sandbox publishes, in order.</summary>
    public sealed class RecordingPublisher : IEventPublisher
    {
        public ConcurrentQueue<TaskEvent> Published { get; } = new();

        public void Publish(TaskEvent taskEvent) => Published.Enqueue(taskEvent);
    }
}
