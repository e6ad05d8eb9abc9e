using System.Diagnostics;
using System.Text.Json;
using Cc.Ttrpc;
using Cc.Ttrpc.Transports;

namespace Cc.Bench.Ttrpc;

/// <summary>A client/server pair under test: the server runs in its own process
/// (<see cref="Server"/>); the client runs the workloads against it.</summary>
public interface IBenchTarget : IAsyncDisposable
{
    string Label { get; }

    PeerProcess Server { get; }

    Task<BenchSample> RunAsync(EchoWorkload workload, TimeSpan warmup, TimeSpan duration, CancellationToken cancellationToken);
}

/// <summary>Go client → Go server: both are the reference peer binary; each run is one client process
/// on one connection, timing itself exactly as our client does (bench.go).</summary>
public sealed class GoTarget(string label, string peerPath, string address, PeerProcess server) : IBenchTarget
{
    public string Label => label;

    public PeerProcess Server => server;

    public static async Task<GoTarget> StartAsync(string label, string peerPath, string address, CancellationToken cancellationToken)
    {
        var server = await PeerProcess.StartAsync(peerPath, ["-mode", "server", "-address", address, "-exit-on-eof"], cancellationToken).ConfigureAwait(false);
        return new GoTarget(label, peerPath, address, server);
    }

    public async Task<BenchSample> RunAsync(EchoWorkload workload, TimeSpan warmup, TimeSpan duration, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(peerPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["-mode", "client", "-address", address, .. workload.GoArguments(warmup, duration)])
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {peerPath}");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(warmup + duration + TimeSpan.FromSeconds(30));
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{label} client failed ({process.ExitCode}): {(await stderr.ConfigureAwait(false)).Trim()}");
            }

            using var json = JsonDocument.Parse(await stdout.ConfigureAwait(false));
            var root = json.RootElement;
            return new BenchSample(root.GetProperty("calls").GetInt32(), root.GetProperty("callsPerSec").GetDouble(),
                root.GetProperty("mibPerSec").GetDouble(), root.GetProperty("p50Micros").GetDouble(), root.GetProperty("p99Micros").GetDouble());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{label} client did not finish {workload.Name} in time");
        }
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();
}

/// <summary>Our client (this process) → our server (the dedicated peer, or a <c>Cc.Bench ttrpc-server</c> child); one
/// connection per run, as the Go client has.</summary>
public sealed class OurTarget(string label, string address, PeerProcess server, bool ownsServer = true,
    SocketTransportFactory? transport = null) : IBenchTarget
{
    /// <summary>Our client against another target's server (the Go one), which that target still owns:
    /// tells whether a gap comes from our client or our server.</summary>
    public static OurTarget Against(IBenchTarget other, string address) =>
        new($"our client → {other.Label} server", address, other.Server, ownsServer: false);

    public string Label => label;

    public PeerProcess Server => server;

    /// <summary>Starts our server (this program's ttrpc-server, or <paramref name="serverBinary"/>'s) with both ends
    /// on <paramref name="transport"/> (null: Cc.Ttrpc's stream transport; else <see cref="SocketConnectionTransport.Create"/>).</summary>
    public static async Task<OurTarget> StartAsync(string label, string address, SocketTransportFactory? transport, string? serverBinary,
        CancellationToken cancellationToken)
    {
        var (fileName, prefix) = serverBinary is null ? SelfCommand() : (serverBinary, Array.Empty<string>());
        string[] transportArgs = transport is null ? [] : ["--transport", "socket-connection"];
        var server = await PeerProcess.StartAsync(fileName, [.. prefix, "ttrpc-server", "--address", address, .. transportArgs], cancellationToken)
            .ConfigureAwait(false);
        return new OurTarget(label, address, server, transport: transport);
    }

    /// <summary>Starts the dedicated peer executable (integration/Cc.TtrpcPeer: Cc.Ttrpc and the Echo service only) as
    /// the server, on Cc.Ttrpc's stream transport.</summary>
    public static async Task<OurTarget> StartPeerAsync(string label, string address, string peerBinary, CancellationToken cancellationToken)
    {
        var server = await PeerProcess.StartAsync(peerBinary, ["--address", address], cancellationToken).ConfigureAwait(false);
        return new OurTarget(label, address, server);
    }

    public async Task<BenchSample> RunAsync(EchoWorkload workload, TimeSpan warmup, TimeSpan duration, CancellationToken cancellationToken)
    {
        var options = new TtrpcClientOptions { SocketTransport = transport };
        await using var client = await TtrpcClient.ConnectAsync(address, options, cancellationToken).ConfigureAwait(false);
        return await workload.RunAsync(client, warmup, duration, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => ownsServer ? server.DisposeAsync() : ValueTask.CompletedTask;

    /// <summary>How to start this same program again: the executable itself (apphost or NativeAOT), or
    /// "dotnet Cc.Bench.dll" when run through the muxer.</summary>
    private static (string FileName, string[] Prefix) SelfCommand()
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        return Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? (self, [Path.Combine(AppContext.BaseDirectory, "Cc.Bench.dll")])
            : (self, []);
    }
}
