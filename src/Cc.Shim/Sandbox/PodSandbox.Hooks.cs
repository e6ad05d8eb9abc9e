using System.Text.Json;
using System.Text.Json.Nodes;
using Cc.Shim.Lifetime;
using Cc.Shim.Network;
using Microsoft.Extensions.Logging;

namespace Cc.Shim.Sandbox;

// OCI hooks on the host and the network namespace they fill (docs/docker.md, "Networking"). Docker 26 asks for a new
// network namespace (no path) and gives its network as the prestart hook libnetwork-setkey, which tells dockerd the
// namespace of the state's pid; dockerd moves the container's veth (address, routes) into it before the hook returns.
// So, as runc does, the shim makes the namespace, runs prestart and createRuntime there before the VM boots, and then
// the namespace is the pod's network like any CNI namespace: mirrored into the VM (QemuVmLauncher.Network).
public sealed partial class PodSandbox
{
    /// <summary>The hooks and state a container's later phases (poststart, poststop) need.</summary>
    internal sealed record ContainerHooks(OciHooks Hooks, IReadOnlyDictionary<string, string> Annotations);

    /// <summary>
    /// For the Create that boots the VM, when the spec asks for a new network namespace and has create hooks: makes
    /// the namespace (released by the sandbox's clean-up stack), runs prestart then createRuntime in it, and returns the
    /// spec and sandbox spec that name it, so the VM mirrors it and the container joins it (the guest's root network
    /// namespace). Otherwise the spec as it was. A failing hook fails the Create with its stderr and leaves nothing.
    /// </summary>
    private async Task<(ReadOnlyMemory<byte> Spec, SandboxSpec Sandbox, CleanupRegistration? NetnsRelease)> RunCreateHooksAsync(
        CreateContainerRequest request, ReadOnlyMemory<byte> spec, SandboxSpec sandbox, OciHooks hooks,
        CancellationToken cancellationToken)
    {
        if (!hooks.HasCreateHooks)
        {
            return (spec, sandbox, null);
        }
        if (Volatile.Read(ref _vm) is not null || sandbox.IsCriSandbox || sandbox.Network != SandboxNetwork.Fresh)
        {
            // Only the container that boots the VM owns the VM's network; a CRI pod's is CNI's. Docker never gets here.
            Log.CreateHooksNotRun(_logger, request.Id);
            return (spec, sandbox, null);
        }
        ContainerNetns netns;
        try
        {
            netns = await Task.Run(() => ContainerNetns.Create(_options.RunDirectory), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NetworkSetupException or IOException)
        {
            throw new PreconditionFailedException($"container {request.Id}: cannot make its network namespace: {e.Message}");
        }
        // Registered at once: it is released after the VM (the stack runs newest first), whose network teardown needs it.
        var release = _cleanup.Register($"remove network namespace of {request.Id}", _ => Task.Run(netns.Remove));
        try
        {
            var state = OciState.Render(request.Id, "creating", netns.HolderPid, request.Bundle, OciState.Annotations(spec.Span));
            await HookRunner.RunPhaseAsync("prestart", hooks.Prestart, state, _logger, cancellationToken).ConfigureAwait(false);
            await HookRunner.RunPhaseAsync("createRuntime", hooks.CreateRuntime, state, _logger, cancellationToken).ConfigureAwait(false);
            await Task.Run(netns.ReleaseHolder, CancellationToken.None).ConfigureAwait(false);
        }
        catch (HookFailedException e)
        {
            await release.DisposeAsync().ConfigureAwait(false);
            throw new PreconditionFailedException($"container {request.Id}: {e.Message}");
        }
        catch
        {
            await release.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        Log.NetnsMade(_logger, request.Id, netns.Path);
        return (WithNetworkPath(spec.Span, netns.Path), sandbox with { Network = new SandboxNetwork(true, netns.Path) }, release);
    }

    /// <summary>poststart: after the init started, on the host; a failure is a warning (runtime-spec, runc).</summary>
    private async Task RunPoststartAsync(ShimContainer container, int vmPid)
    {
        if (container.Hooks is { Hooks.Poststart.Count: > 0 } hooks)
        {
            var state = OciState.Render(container.Id, "running", vmPid, container.Bundle, hooks.Annotations);
            await HookRunner.RunPhaseWarningOnlyAsync("poststart", hooks.Hooks.Poststart, state, _logger, CancellationToken.None)
                .ConfigureAwait(false);
        }
    }

    /// <summary>poststop: once the container is deleted, on the host; a failure is a warning (runtime-spec, runc).</summary>
    private async Task RunPoststopAsync(ShimContainer container)
    {
        if (container.Hooks is { Hooks.Poststop.Count: > 0 } hooks)
        {
            var state = OciState.Render(container.Id, "stopped", 0, container.Bundle, hooks.Annotations);
            await HookRunner.RunPhaseWarningOnlyAsync("poststop", hooks.Hooks.Poststop, state, _logger, CancellationToken.None)
                .ConfigureAwait(false);
        }
    }

    /// <summary>The spec with <c>linux.namespaces[type=network].path</c> = <paramref name="path"/>; all else as it was.</summary>
    internal static byte[] WithNetworkPath(ReadOnlySpan<byte> configJson, string path)
    {
        var root = (JsonObject)JsonNode.Parse(configJson)!;
        foreach (var entry in ((root["linux"] as JsonObject)?["namespaces"] as JsonArray ?? []).OfType<JsonObject>())
        {
            if (entry["type"] is JsonValue t && t.TryGetValue<string>(out var type) && type == "network")
            {
                entry["path"] = path;
            }
        }
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            root.WriteTo(writer);
        }
        return buffer.ToArray();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 972, Level = LogLevel.Information,
            Message = "Container {ContainerId}: its create hooks filled the network namespace {Netns}, which the VM mirrors")]
        public static partial void NetnsMade(ILogger logger, string containerId, string netns);

        [LoggerMessage(EventId = 973, Level = LogLevel.Warning,
            Message = "Container {ContainerId}: prestart/createRuntime hooks not run: only the container that boots the VM, with a new network namespace, runs them")]
        public static partial void CreateHooksNotRun(ILogger logger, string containerId);
    }
}
