// Cc.TtrpcPeer --address unix:///path: the C# twin of the Go reference peer's server mode (hack/ttrpc-peer), a small
// dedicated NativeAOT executable that serves cc.test.v1.Echo with Cc.Ttrpc and nothing else, so that the ttrpc bench
// compares a server's memory with the Go peer's on equal terms (docs/performance.md "ttrpc"). The bench's own
// `Cc.Bench ttrpc-server` serves the same through the same host, but inside the whole bench executable.
using System.Runtime.InteropServices;
using Cc.Bench.Ttrpc;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

if (args is not ["--address", var address])
{
    Console.Error.WriteLine("usage: Cc.TtrpcPeer --address unix:///path");
    return 2;
}

using var cancellation = new CancellationTokenSource();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    cancellation.Cancel();
});
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
{
    context.Cancel = true;
    cancellation.Cancel();
});
try
{
    return await EchoServerHost.RunAsync(address, transport: null, cancellation.Token).ConfigureAwait(false);
}
catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
{
    return 0;
}
