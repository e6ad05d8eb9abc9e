using Cc.Shim.Logging;
using Cc.TestKit;

namespace Cc.Shim.Tests.Logging;

/// <summary>The guest's console.log followed into the shim's log, through the daemon's real pipeline.</summary>
public sealed class GuestConsoleForwarderTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("cc-console-").FullName;
    private readonly CapturedLog _log = new();
    private readonly ManualTimeProvider _time = new();

    private string ConsolePath => Path.Combine(_directory, "console.log");

    public void Dispose()
    {
        _log.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private GuestConsoleForwarder Forwarder(int burst = 100) =>
        new(ConsolePath, _log.Logger(), new LineBudget(burst, 10, _time));

    private void Append(string text) => File.AppendAllText(ConsolePath, text);

    [Fact]
    public async Task Complete_lines_are_forwarded_with_their_source_and_a_partial_line_waits_for_its_end()
    {
        await using var forwarder = Forwarder();
        forwarder.Pump(final: false);
        _log.Lines.ShouldBeEmpty("no console.log yet");

        Append("[    0.100] Linux version 6.6\ncc-agent 00:00:01.000 info Cc.Agent: serving on port 1\nqemu: a line of QEMU's\npart");
        forwarder.Pump(final: false);
        Append("ial\n");
        forwarder.Pump(final: false);

        _log.Lines.Count.ShouldBe(3, string.Join('\n', _log.Lines));
        _log.Lines[0].ShouldContain("level=info msg=\"[    0.100] Linux version 6.6\" source=guest-console sandbox=sb-1 ");
        _log.Lines[1].ShouldContain("level=info msg=\"Cc.Agent: serving on port 1\" source=agent sandbox=sb-1 ");
        _log.Lines[2].ShouldContain("msg=partial source=guest-console");
    }

    [Fact]
    public async Task The_final_pump_logs_an_unterminated_last_line()
    {
        await using var forwarder = Forwarder();
        Append("Kernel panic - not syncing: no init");

        forwarder.Pump(final: false);
        _log.Lines.ShouldBeEmpty();
        forwarder.Pump(final: true);

        _log.Lines.ShouldHaveSingleItem().ShouldContain("msg=\"Kernel panic - not syncing: no init\" source=guest-console");
    }

    [Fact]
    public async Task A_flood_logs_the_burst_then_one_line_counting_the_rest()
    {
        await using var forwarder = Forwarder(burst: 5);
        Append(string.Concat(Enumerable.Range(0, 1000).Select(i => $"line {i}\n")));

        forwarder.Pump(final: false);
        _log.Lines.Count.ShouldBe(5);
        _time.Advance(TimeSpan.FromSeconds(1));
        forwarder.Pump(final: false);

        _log.Lines.Count.ShouldBe(6);
        _log.Lines[5].ShouldContain("level=warning msg=\"Guest console: 995 lines not logged (more than 5 at once or 10 per second);");
    }

    [Fact]
    public async Task A_long_line_is_cut_and_says_by_how_much()
    {
        await using var forwarder = Forwarder();
        Append(new string('x', GuestConsoleForwarder.MaxLineChars + 500) + "\n");

        forwarder.Pump(final: false);

        var line = _log.Lines.ShouldHaveSingleItem();
        line.ShouldContain($"msg=\"{new string('x', GuestConsoleForwarder.MaxLineChars)}… (500 more characters)\"");
    }

    [Fact]
    public async Task A_console_log_started_over_by_a_new_VM_is_read_from_its_beginning()
    {
        await using var forwarder = Forwarder();
        Append("first VM says a long line\n");
        forwarder.Pump(final: false);

        File.WriteAllText(ConsolePath, "second\n");
        forwarder.Pump(final: false);

        _log.Lines.Select(l => l.Split(" source=")[0].Split("msg=")[1]).ShouldBe(["\"first VM says a long line\"", "second"]);
    }

    [Fact]
    public async Task Started_from_a_request_scope_the_guest_lines_carry_no_container_of_that_request()
    {
        Append("booting\n");
        GuestConsoleForwarder forwarder;
        using (LogFields.BeginTask("ctr-1"))
        {
            forwarder = GuestConsoleForwarder.Start(ConsolePath, _log.Logger(), TimeProvider.System);
        }
        await forwarder.DisposeAsync();

        var line = _log.Lines.ShouldHaveSingleItem();
        line.ShouldContain("msg=booting source=guest-console sandbox=sb-1");
        line.ShouldNotContain("container=");
    }

    [Fact]
    public void Reads_back_off_while_the_guest_is_quiet_and_return_to_the_short_interval_after_bytes()
    {
        var interval = GuestConsoleForwarder.PollInterval;
        var waits = new List<TimeSpan>();
        for (var i = 0; i < 7; i++)
        {
            interval = GuestConsoleForwarder.NextInterval(interval, readBytes: false);
            waits.Add(interval);
        }

        waits.Select(w => w.TotalMilliseconds).ShouldBe([400, 800, 1600, 3200, 3200, 3200, 3200]);
        GuestConsoleForwarder.NextInterval(GuestConsoleForwarder.IdlePollInterval, readBytes: true).ShouldBe(GuestConsoleForwarder.PollInterval);
    }

    [Fact]
    public async Task After_a_quiet_spell_the_loop_wakes_for_a_new_line_within_the_idle_interval_then_reads_closely_again()
    {
        var forwarder = GuestConsoleForwarder.Start(ConsolePath, _log.Logger(), _time);
        try
        {
            // Quiet: no console.log yet, then an empty one. Each read finds nothing and doubles the wait: 200 ms … 3.2 s.
            File.WriteAllText(ConsolePath, "");
            foreach (var wait in new[] { 200, 400, 800, 1600, 3200 })
            {
                await ArmedAsync();
                _time.Advance(TimeSpan.FromMilliseconds(wait));
            }
            await ArmedAsync();

            Append("woken\n");
            _time.Advance(TimeSpan.FromMilliseconds(200));
            _log.Lines.ShouldBeEmpty("the loop sleeps out its idle interval; no read is due 200 ms into it");
            _time.Advance(GuestConsoleForwarder.IdlePollInterval - TimeSpan.FromMilliseconds(200));
            await Bounded.UntilAsync(() => _log.Lines.Count == 1, "the line is read when the idle wait ends");
            _log.Lines[0].ShouldContain("msg=woken source=guest-console");

            // Bytes were read, so the next read comes one short interval later.
            await ArmedAsync();
            Append("right after\n");
            _time.Advance(GuestConsoleForwarder.PollInterval);
            await Bounded.UntilAsync(() => _log.Lines.Count == 2, "a line right after another is read one short interval later");
            _log.Lines[1].ShouldContain("msg=\"right after\" source=guest-console");
        }
        finally
        {
            await forwarder.DisposeAsync();
        }
    }

    /// <summary>Until the loop has read and scheduled its next read (its one timer on the manual clock).</summary>
    private Task ArmedAsync() => Bounded.UntilAsync(() => _time.ActiveTimers == 1, "the console loop waits for its next read");
}
