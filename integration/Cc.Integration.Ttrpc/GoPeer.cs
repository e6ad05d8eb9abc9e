using System.Diagnostics;
using System.Text.Json;

namespace Cc.Integration.Ttrpc;

/// <summary>
/// The Go reference peer (hack/ttrpc-peer) as the tests use it: built on first use by
/// hack/build-ttrpc-peer.sh (once per test run, bounded), started as a server, or run once as a
/// client whose one JSON line is the result.
/// </summary>
public static class GoPeer
{
    public const string V11 = "1.1";
    public const string V12 = "1.2";

    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(30);
    private static readonly SemaphoreSlim BuildGate = new(1, 1);
    private static bool s_built;

    public static string RepoRoot { get; } = FindRepoRoot();

    public static async Task<string> PathAsync(string version)
    {
        await EnsureBuiltAsync().ConfigureAwait(false);
        return Path.Combine(RepoRoot, "build", "ttrpc-peer", $"peer-v{version}");
    }

    public static async Task<Cc.Bench.Ttrpc.PeerProcess> StartServerAsync(string version, string address)
    {
        var path = await PathAsync(version).ConfigureAwait(false);
        return await Cc.Bench.Ttrpc.PeerProcess.StartAsync(path, ["-mode", "server", "-address", address, "-exit-on-eof"], CancellationToken.None)
            .WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    /// <summary>Runs one client workload against <paramref name="address"/> and returns its JSON result.
    /// A non-zero exit (the workload could not run) fails the test with the peer's stderr.</summary>
    public static async Task<JsonElement> RunClientAsync(string version, string address, params string[] arguments)
    {
        var (exitCode, stdout, stderr) = await RunClientProcessAsync(version, address, arguments).ConfigureAwait(false);
        exitCode.ShouldBe(0, $"Go client {string.Join(' ', arguments)} failed: {stderr}");
        using var json = JsonDocument.Parse(stdout);
        return json.RootElement.Clone();
    }

    /// <summary>Runs the Go client and returns how it ended, for tests that expect it to fail.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunClientProcessAsync(string version, string address, params string[] arguments)
    {
        var path = await PathAsync(version).ConfigureAwait(false);
        var info = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in (string[])["-mode", "client", "-address", address, .. arguments])
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {path}");
        using var timeout = new CancellationTokenSource(ClientTimeout);
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            return (process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"Go client {string.Join(' ', arguments)} did not finish within {ClientTimeout}");
        }
    }

    private static async Task EnsureBuiltAsync()
    {
        await BuildGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (s_built)
            {
                return;
            }

            var info = new ProcessStartInfo("bash", [Path.Combine(RepoRoot, "hack", "build-ttrpc-peer.sh")])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = RepoRoot,
            };
            using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start bash");
            using var timeout = new CancellationTokenSource(BuildTimeout);
            var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
            var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"hack/build-ttrpc-peer.sh did not finish within {BuildTimeout}");
            }

            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException(
                    $"hack/build-ttrpc-peer.sh failed ({process.ExitCode}):\n{await stdout.ConfigureAwait(false)}{await stderr.ConfigureAwait(false)}");
            }

            s_built = true;
        }
        finally
        {
            BuildGate.Release();
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ShimV2.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no ShimV2.sln above {AppContext.BaseDirectory}");
    }
}
