using System.Collections.Concurrent;
using System.Diagnostics;
using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Hypervisor;
using Cc.Hypervisor.Qemu;
using Cc.Hypervisor.Templates;
using Cc.TestKit;
using Cc.Ttrpc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cc.Integration.Vm;

/// <summary>
/// Clones of a template VM (docs/templates.md, "The first answer") connected with the short first probe the shim uses
/// for clones (<see cref="AgentConnector.RestoredGuestFirstProbe"/>). The factory saves the template only once its agent
/// has closed and reopened its port after the factory's hang-up, so a clone's agent never answers on the factory's
/// connection (its console never shows that connection's session meeting the clone's), and every call after the probes is
/// answered (the call after a probe answered on the stale connection was lost when the agent then read the hang-up and
/// closed its port). Several clones in a row,
/// since what a clone meets depends on where in its reopen loop the template's agent was saved.
/// </summary>
public sealed class TemplateCloneConnectTests : IAsyncLifetime
{
    private const int Clones = 6;
    private static readonly TimeSpan s_cloneAgentBound = TimeSpan.FromSeconds(15);

    private readonly string _scratch = Directory.CreateTempSubdirectory("cc-clone-").FullName;
    private VmTemplateFactory _factory = null!;
    private VmTemplate _template = null!;

    public async Task InitializeAsync()
    {
        _factory = new VmTemplateFactory(new QemuHypervisor(), Path.Combine(_scratch, "templates"), NullLogger.Instance);
        try
        {
            _template = await _factory.EnsureAsync(Config("template"), async (vm, token) =>
            {
                // As the shim's factory: the template's host checks the agent; the factory hangs up before the save.
                var agent = await AgentConnector.ConnectAsync(vm.Agent.ToString(), AgentVm.BootTimeout, cancellationToken: token);
                return (IAsyncDisposable)agent.Connection;
            }, CancellationToken.None).WithTimeout(AgentVm.BootTimeout * 2);
        }
        catch
        {
            // xunit does not dispose a class whose InitializeAsync failed.
            await DisposeAsync();
            throw;
        }
    }

    public Task DisposeAsync()
    {
        _factory.DestroyAll();
        Directory.Delete(_scratch, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Every_clone_answers_the_short_first_probe_then_serves_its_calls_and_never_meets_the_factorys_connection()
    {
        var report = new List<string>();
        for (int i = 0; i < Clones; i++)
        {
            var config = Config($"clone-{i}");
            var log = new CollectingLoggerFactory();
            await using var clone = await _factory.StartCloneAsync(config, _template, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(10),
                CancellationToken.None).WithTimeout(AgentVm.BootTimeout);
            var watch = Stopwatch.StartNew();
            AgentClient agent;
            try
            {
                agent = await AgentConnector.ConnectAsync(clone.Agent.ToString(), s_cloneAgentBound,
                    new TtrpcClientOptions { LoggerFactory = log }, AgentConnector.RestoredGuestFirstProbe).WithTimeout(s_cloneAgentBound * 2);
            }
            catch (TimeoutException e)
            {
                throw new ShouldAssertException($"clone {i}: {e.Message}\n{string.Join('\n', report)}\nhost:\n{log}\nconsole:\n{Console(config)}");
            }
            var connected = watch.Elapsed;
            string console;
            await using (agent.Connection)
            {
                // The session goes on past the probes: the next calls take the next ids and are answered.
                try
                {
                    (await agent.GetGuestDetailsAsync(new GetGuestDetailsRequest()).WithTimeout(AgentVm.CallTimeout)).Ready.ShouldBeTrue();
                    (await agent.CheckAsync(new CheckRequest()).WithTimeout(AgentVm.CallTimeout)).Ready.ShouldBeTrue();
                }
                catch (Exception e) when (e is TimeoutException or TtrpcException)
                {
                    throw new ShouldAssertException($"clone {i}: a call after the probes: {e.Message}\n{string.Join('\n', report)}\nhost:\n{log}\nconsole:\n{Console(config)}");
                }
                // Read while the clone's own connection is still open: any close reported so far is of an older one.
                console = Console(config);
            }
            await clone.StopAsync(TimeSpan.FromSeconds(5), CancellationToken.None).WithTimeout(AgentVm.BootTimeout);
            report.Add($"clone {i}: agent answered {connected.TotalMilliseconds:0} ms after the restore; host: {log}\nguest: {console.ReplaceLineEndings(" | ")}");
            // A clone request that reached the factory's connection (the template saved before its agent read the hang-up)
            // met that connection's session, whose last stream id is at least the factory's answered Check: the agent
            // logs that a new client session began there (docs/agent-api.md, Check). On a connection of the clone's own,
            // the host's ids only increase.
            console.ShouldNotContain("a new client session began", customMessage: $"clone {i} was answered on the factory's connection\n{string.Join('\n', report)}");
            console.ShouldNotContain("cannot be re-used", customMessage: $"clone {i}\n{string.Join('\n', report)}");
        }
        System.Console.WriteLine(string.Join('\n', report));
    }

    private VmConfig Config(string name) => new()
    {
        Kernel = new KernelConfig
        {
            Path = Path.Combine(AgentVm.GuestDirectory, "vmlinux"),
            InitramfsPath = Path.Combine(AgentVm.GuestDirectory, "initramfs.cpio"),
            AgentLogLevel = "debug",
            // As a template of the shim's: nothing of the host is mounted when it is saved.
            ExtraParameters = ["cc.share=late"],
        },
        RunDirectory = Path.Combine(_scratch, name, "run"),
        ConsoleLogPath = Path.Combine(_scratch, name, "console.log"),
        Shared = new SharedDirectory { HostPath = Directory.CreateDirectory(Path.Combine(_scratch, name, "shared")).FullName },
        MemoryMiB = 512,
    };

    private static string Console(VmConfig config) =>
        File.Exists(config.ConsoleLogPath) ? File.ReadAllText(config.ConsoleLogPath) : "(no console log)";

    /// <summary>The host client's own log lines (answers dropped as late, ...), to tell what the probes met.</summary>
    private sealed class CollectingLoggerFactory : ILoggerFactory, ILogger
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly ConcurrentQueue<string> _lines = new();

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter) =>
            _lines.Enqueue($"+{_clock.ElapsedMilliseconds} ms {formatter(state, exception)}");

        public override string ToString() => _lines.IsEmpty ? "(nothing logged)" : string.Join(" | ", _lines);

        public void Dispose()
        {
        }
    }
}
