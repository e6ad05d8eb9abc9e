namespace Cc.Bench.Cri;

/// <summary>
/// One pod's start as kubelet drives it, in ms from the moment its RunPodSandbox was sent: the sandbox ready
/// (RunPodSandbox and kubelet's PodSandboxStatus answered), the container started (StartContainer answered), and the
/// first byte of the container's output in its CRI log file.
/// </summary>
internal sealed record PodStartSample(double SandboxMs, double StartedMs, double FirstByteMs);

/// <summary>One round of <paramref name="Pods"/> pods started at once: each pod's sample, and the wall time until the last first byte.</summary>
internal sealed record PodRound(IReadOnlyList<PodStartSample> Pods, double AllMs);
