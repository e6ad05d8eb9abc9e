using Cc.Agent.Protocol;
using Cc.Ttrpc;
using V1 = Cc.Agent.Protocol.V1;

namespace Cc.Shim.Sandbox;

/// <summary>
/// A template is saved only once its guest has loaded every module. The agent answers Check with its boot set loaded and
/// loads the rest after ready, in the background (docs/guest-image.md); a template saved before they are in would leave
/// that loading to every clone, whose CreateSandbox awaits it (0.4 s of QEMU CPU under TCG, measured in
/// docs/performance.md, "Where a cold start goes"). The agent says when they are in: its boot timeline gains
/// <see cref="DeferredModulesLoadedStep"/> (GetGuestDetails, docs/agent-api.md).
/// </summary>
public static class TemplateGuestModules
{
    /// <summary>The boot timeline's step for the background modules' end (the agent's BootTimeline.DeferredModulesLoaded).</summary>
    public const string DeferredModulesLoadedStep = "deferred modules loaded (background)";

    /// <summary>How often the timeline is asked again; each ask is one small call on a connection already open.</summary>
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Waits until the guest's timeline shows the background modules loaded, at most <paramref name="bound"/>. True when
    /// it did; false when the bound passed first (an image that loads every module before ready never marks the step:
    /// its template is then saved after the bound, as complete as it will get).
    /// </summary>
    public static async Task<bool> WaitAsync(AgentClient agent, TimeSpan bound, TimeProvider time, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            var left = bound - time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }
            V1.GetGuestDetailsResponse details;
            try
            {
                details = await agent.GetGuestDetailsAsync(new V1.GetGuestDetailsRequest(),
                    new CallOptions(Timeout: left, CancellationToken: cancellationToken)).ConfigureAwait(false);
            }
            catch (TtrpcException e) when (e.Code is StatusCode.DeadlineExceeded or StatusCode.Unimplemented)
            {
                // The bound passed during the ask, or an agent too old to tell: saved as it is.
                return false;
            }
            if (details.BootTimeline.Any(step => step.Name == DeferredModulesLoadedStep))
            {
                return true;
            }
            await Task.Delay(PollInterval, time, cancellationToken).ConfigureAwait(false);
        }
    }
}
