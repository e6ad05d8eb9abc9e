using System.Diagnostics;
using Cc.Hypervisor.Processes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace Cc.Shim.Events;

/// <summary>
/// The emergency path (protocol.md §3.5.4): <c>&lt;containerd&gt; --address &lt;grpc&gt; publish --topic T --namespace N</c>
/// with the event's Any on stdin. containerd re-stamps the event; it needs the gRPC socket. Used only after the ttrpc
/// Forward path has failed every attempt.
/// </summary>
public sealed class PublishBinarySink : IEventSink
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly string _binary;
    private readonly string _grpcAddress;
    private readonly string _namespace;

    public PublishBinarySink(string binary, string grpcAddress, string ns)
    {
        _binary = binary;
        _grpcAddress = grpcAddress;
        _namespace = ns;
    }

    public async Task SendAsync(string topic, Any @event, DateTimeOffset timestamp, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(_binary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["--address", _grpcAddress, "publish", "--topic", topic, "--namespace", _namespace])
        {
            start.ArgumentList.Add(arg);
        }
        // Registered so the daemon's orphan reaper leaves this pid to the runtime (OwnChildren).
        using var process = OwnChildren.Start(() => Process.Start(start), p => p?.Id ?? 0)
            ?? throw new IOException($"cannot start {_binary}");
        try
        {
            await PublishAsync(process, topic, @event, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Only once the runtime reaped it; a child still running stays registered (harmless, see OwnChildren).
            if (process.HasExited)
            {
                OwnChildren.Collected(process.Id);
            }
        }
    }

    private async Task PublishAsync(Process process, string topic, Any @event, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            await process.StandardInput.BaseStream.WriteAsync(@event.ToByteArray(), timeout.Token).ConfigureAwait(false);
            process.StandardInput.Close();
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                throw new IOException($"{_binary} publish {topic} exited {process.ExitCode}: {(await stderr.ConfigureAwait(false)).Trim()}");
            }
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
