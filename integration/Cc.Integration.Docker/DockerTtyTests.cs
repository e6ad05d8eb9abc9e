using System.Net.Sockets;
using Cc.Integration.Containerd.Harness;
using Cc.Integration.Docker.Harness;

namespace Cc.Integration.Docker;

/// <summary>
/// `docker run -it`, `docker attach` and the Engine API's resize reach the container's terminal in the guest: the
/// size the client's terminal has (a pseudo-terminal of `script`, sized with `stty` before docker starts) or the API
/// asks for is what `stty size` reads inside. Docker sends ResizePty after it starts or attaches, and the kernel
/// signals WINCH to the terminal's foreground process group, which the container traps.
/// </summary>
[Collection(DockerCollection.Name)]
[Trait("Category", "Docker")]
public sealed class DockerTtyTests(DockerFixture fixture) : DockerTestBase(fixture)
{
    /// <summary>`docker …` on a pseudo-terminal of <paramref name="rows"/> × <paramref name="columns"/>.</summary>
    private Task<ProcessResult> DockerOnTtyAsync(int rows, int columns, params string[] args)
    {
        var docker = ShellQuote.Join(args.Prepend(Docker.Directory).Prepend(RepoPaths.Hack("docker/docker.sh")));
        return ProcessRunner.RunAsync("script", ["-qec", $"stty rows {rows} cols {columns}; {docker}", "/dev/null"],
            RunTimeout, CancellationToken.None);
    }

    private RunningProcess StartDockerOnTty(int rows, int columns, params string[] args)
    {
        var docker = ShellQuote.Join(args.Prepend(Docker.Directory).Prepend(RepoPaths.Hack("docker/docker.sh")));
        return new RunningProcess("script", ["-qec", $"stty rows {rows} cols {columns}; {docker}", "/dev/null"], null);
    }

    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task Docker_run_it_gives_the_container_the_size_of_the_clients_terminal(string runtime)
    {
        // Docker 26 creates the terminal with the client's size (process.consoleSize) and resizes it after the start;
        // the script gives that resize up to 10 s before it reports what it has.
        var result = await DockerOnTtyAsync(33, 77, "run", "-it", "--rm", "--runtime", runtime, Image, "sh", "-c",
            "uname -r; n=0; while [ \"$(stty size)\" != '33 77' ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done; "
            + "echo size=$(stty size)");

        result.ExitCode.ShouldBe(0, result.Describe());
        var lines = result.Stdout.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        // script echoes its own stdin's end (^D, shown as "^@") in front of the first line.
        lines.ShouldContain(line => line.EndsWith(KernelOf(runtime), StringComparison.Ordinal), result.Describe());
        lines.ShouldContain("size=33 77", result.Describe());
    }

    /// <summary>
    /// A detached container with a terminal traps WINCH and prints its size: the Engine API's resize (dockerd →
    /// containerd → ResizePty) changes it to 33 × 77, then `docker attach` from a 20 × 60 terminal changes it to that.
    /// </summary>
    [Theory]
    [InlineData("runc")]
    [InlineData("cc")]
    public async Task The_api_resize_and_docker_attach_resize_a_running_containers_terminal(string runtime)
    {
        var id = await DockerOkAsync("run", "-dit", "--runtime", runtime, Image, "sh", "-c",
            "trap 'echo size=$(stty size)' WINCH; uname -r; echo ready; while :; do sleep 0.2; done");
        try
        {
            await using (var logs = Docker.StartDocker("logs", "-f", id))
            {
                await logs.WaitForStdoutAsync("ready", RunTimeout, CancellationToken.None);
                logs.Stdout.ShouldStartWith(KernelOf(runtime));
                await ResizeAsync(id, rows: 33, columns: 77);
                await logs.WaitForStdoutAsync("size=33 77", CommandTimeout, CancellationToken.None);
            }

            await using var attach = StartDockerOnTty(20, 60, "attach", id);
            await attach.WaitForStdoutAsync("size=20 60", CommandTimeout, CancellationToken.None);
        }
        finally
        {
            await DockerOkAsync("rm", "-f", id);
        }
    }

    /// <summary>POST /containers/{id}/resize on dockerd's API socket (what the CLI sends on SIGWINCH).</summary>
    private async Task ResizeAsync(string id, int rows, int columns)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(Path.Combine(Docker.Directory, "docker.sock")), token);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        using var http = new HttpClient(handler) { Timeout = CommandTimeout };
        using var response = await http.PostAsync(new Uri($"http://docker/containers/{id}/resize?h={rows}&w={columns}"), null);
        response.IsSuccessStatusCode.ShouldBeTrue(await response.Content.ReadAsStringAsync());
    }
}
