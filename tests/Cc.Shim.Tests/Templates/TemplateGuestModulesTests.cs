using Cc.Agent.Protocol;
using Cc.Agent.Protocol.V1;
using Cc.Shim.Sandbox;
using Cc.TestKit;
using Cc.Ttrpc;
using Shouldly;
using Xunit;

namespace Cc.Shim.Tests.Templates;

/// <summary>
/// A template is saved only once its guest's background modules are loaded (TemplateGuestModules): else every clone
/// loads them after its restore and its CreateSandbox waits for them.
/// </summary>
public sealed class TemplateGuestModulesTests
{
    [Fact]
    public async Task The_wait_ends_when_the_guest_timeline_shows_the_background_modules_loaded()
    {
        var guest = new TimelineAgent { MarkedFromCall = 3 };
        await using var session = await AgentSession.StartAsync(guest);

        var loaded = await TemplateGuestModules.WaitAsync(session.Agent, TimeSpan.FromSeconds(60), TimeProvider.System,
            CancellationToken.None).WithTimeout();

        loaded.ShouldBeTrue();
        guest.Calls.ShouldBe(3, "asked until the step appeared, not after");
    }

    [Fact]
    public async Task A_guest_that_never_marks_the_step_is_saved_once_the_bound_has_passed()
    {
        var guest = new TimelineAgent { MarkedFromCall = int.MaxValue };
        await using var session = await AgentSession.StartAsync(guest);

        var loaded = await TemplateGuestModules.WaitAsync(session.Agent, TimeSpan.FromMilliseconds(300), TimeProvider.System,
            CancellationToken.None).WithTimeout();

        loaded.ShouldBeFalse();
        guest.Calls.ShouldBeGreaterThan(0);
    }

    /// <summary>An agent whose boot timeline gains the background modules' step from its Nth GetGuestDetails on.</summary>
    private sealed class TimelineAgent : AgentServiceBase
    {
        private int _calls;

        public int MarkedFromCall { get; init; }
        public int Calls => Volatile.Read(ref _calls);

        public override ValueTask<GetGuestDetailsResponse> GetGuestDetailsAsync(GetGuestDetailsRequest request, ServerCallContext context)
        {
            var call = Interlocked.Increment(ref _calls);
            var details = new GetGuestDetailsResponse { Ready = true };
            details.BootTimeline.Add(new BootStep { Name = "agent ready", Seconds = 1.0 });
            if (call >= MarkedFromCall)
            {
                details.BootTimeline.Add(new BootStep { Name = TemplateGuestModules.DeferredModulesLoadedStep, Seconds = 1.5 });
            }
            return ValueTask.FromResult(details);
        }
    }

    /// <summary>The agent served over an in-memory connection, as the fake VM serves its guest.</summary>
    private sealed class AgentSession : IAsyncDisposable
    {
        private readonly TtrpcServer _server = new();
        private readonly CancellationTokenSource _stop = new();
        private TtrpcClient? _client;
        private Task _serving = Task.CompletedTask;

        public AgentClient Agent { get; private set; } = null!;

        public static Task<AgentSession> StartAsync(AgentServiceBase agent)
        {
            var session = new AgentSession();
            session._server.Register(AgentServiceBinding.Bind(agent));
            var (host, guest) = DuplexPipe.Create();
            session._serving = session._server.ServeConnectionAsync(guest, session._stop.Token);
            session._client = new TtrpcClient(host);
            session.Agent = new AgentClient(session._client);
            return Task.FromResult(session);
        }

        public async ValueTask DisposeAsync()
        {
            if (_client is not null)
            {
                await _client.DisposeAsync();
            }
            await _stop.CancelAsync();
            await _server.DisposeAsync();
            try
            {
                await _serving.WithTimeout();
            }
            catch (Exception)
            {
                // the connection's end after the disposal is not what these tests are about
            }
            _stop.Dispose();
        }
    }
}
