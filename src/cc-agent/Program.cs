// cc-agent: PID 1 of the guest (docs/design/guest.md), or a normal process serving --listen on a
// host. As PID 1 it must never return: the kernel panics when init exits.
using Cc.Agent.Guest;
using Cc.Agent.Logging;

// The first thing main does: how long the runtime's own start took shows between /init's exec and this.
BootTimeline.Mark(BootTimeline.AgentMain);
var isPid1 = Environment.ProcessId == 1;
// Blocking reads (the virtio-serial port, crun's output pipes, stdin writes) occupy pool threads;
// a 1-vCPU guest starts with a minimum of one, and growing it on demand takes ~0.5 s per thread.
ThreadPool.GetMinThreads(out var workers, out var completion);
ThreadPool.SetMinThreads(Math.Max(workers, 16), completion);
// The initramfs carries a /dev/console node; the fd stays valid when devtmpfs is mounted over /dev.
TextWriter log = isPid1 ? OpenConsole() : Console.Error;
try
{
    if (isPid1)
    {
        GuestSystem.MountProc();
    }

    AgentSettings settings;
    try
    {
        settings = AgentSettings.Parse(isPid1 ? File.ReadAllText("/proc/cmdline") : "", args);
    }
    catch (ArgumentException e) when (isPid1)
    {
        // A typo on the kernel command line must not leave the guest without an agent: defaults.
        log.Write($"cc-agent: ignoring the kernel command line: {e.Message}\n");
        settings = AgentSettings.Parse("", args);
    }

    if (isPid1)
    {
        // The guest's root is the initramfs, which pivot_root cannot leave.
        settings = settings with { Options = settings.Options with { NoPivotRoot = true } };
    }

    using var loggerFactory = new LineLoggerFactory(new LineLoggerProvider(log, settings.LogLevel));
    var guest = new GuestSystem(loggerFactory.CreateLogger("Cc.Agent.Guest"));
    if (isPid1)
    {
        guest.SetUpAsPid1("/etc/cc/modules", "/etc/cc/modules.boot", "/etc/cc/modules.vsock", "/lib/modules/cc",
            settings.Options.SharedDirectory, settings.Options.PodShmDirectory, settings.MountShareAtBoot);
        guest.MakeReadOnly(settings.Options.RuntimePath);
    }
    else
    {
        guest.MarkReady();
    }

    using var stop = new CancellationTokenSource();
    if (!isPid1)
    {
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
    }

    await AgentHost.RunAsync(settings, guest, loggerFactory, stop.Token);
}
catch (ArgumentException e) when (!isPid1)
{
    log.Write($"cc-agent: {e.Message}\n");
    return 2;
}
catch (Exception e) when (e is not OperationCanceledException)
{
    log.Write($"cc-agent: fatal: {e}\n");
    log.Flush();
    if (!isPid1)
    {
        return 1;
    }
}

if (isPid1)
{
    // Still reaping (the reaper thread runs on); the host sees the fatal line on the console.
    Thread.Sleep(Timeout.Infinite);
}

return 0;

static TextWriter OpenConsole()
{
    try
    {
        return new StreamWriter(new FileStream("/dev/console", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, 0))
        {
            AutoFlush = true,
        };
    }
    catch (IOException)
    {
        return Console.Out;
    }
}
