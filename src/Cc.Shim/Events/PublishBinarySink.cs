using Cc.Hypervisor.Processes;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Win32.SafeHandles;

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
        var (stdinRead, stdinWrite) = AnonymousPipe.Create();
        ChildProcess process;
        try
        {
            // stdin is the event; stdout and stderr are captured for the error message. Nothing else reaches it.
            process = ChildSpawner.Spawn(new SpawnOptions
            {
                Executable = _binary,
                Arguments = ["--address", _grpcAddress, "publish", "--topic", topic, "--namespace", _namespace],
                Fds = [new InheritedFd(0, stdinRead)],
                CaptureOutput = true,
            });
        }
        catch
        {
            stdinWrite.Dispose();
            throw;
        }
        finally
        {
            stdinRead.Dispose();
        }
        using (process)
        {
            await PublishAsync(process, stdinWrite, topic, @event, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task PublishAsync(ChildProcess process, SafeFileHandle stdin, string topic, Any @event, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        try
        {
            await using (var input = new FileStream(stdin, FileAccess.Write, bufferSize: 0))
            {
                await input.WriteAsync(@event.ToByteArray(), timeout.Token).ConfigureAwait(false);
            }
            var code = await process.Exited.WaitAsync(timeout.Token).ConfigureAwait(false);
            if (code != 0)
            {
                throw new IOException($"{_binary} publish {topic} exited {code}: {process.Tail().Trim()}");
            }
        }
        catch (OperationCanceledException)
        {
            process.SignalGroup(9);
            throw;
        }
        finally
        {
            stdin.Dispose();
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
