using System.Text;

namespace Cc.Shim.Monitoring;

/// <summary>
/// The Prometheus text exposition of one sandbox's <see cref="SandboxMetrics"/>: each scrape samples the pod afresh and
/// writes the text (<see cref="PrometheusTextWriter"/>). Every series carries <c>namespace</c> and <c>sandbox</c>, so
/// expositions of many shims merge without clashes (<see cref="ExpositionMerge"/>).
/// </summary>
public sealed class MetricsExporter(SandboxMetrics metrics, ISandboxMetricsSource source)
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Samples the pod (<see cref="SandboxMetrics.RefreshAsync"/>) and writes the text exposition to <paramref name="to"/>.</summary>
    public async Task ExportAsync(Stream to, CancellationToken cancellationToken)
    {
        await metrics.RefreshAsync(source, cancellationToken).ConfigureAwait(false);
        await to.WriteAsync(Utf8.GetBytes(metrics.Write()), cancellationToken).ConfigureAwait(false);
    }
}
