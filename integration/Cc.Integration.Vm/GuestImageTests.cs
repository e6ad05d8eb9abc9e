using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cc.TestKit;

namespace Cc.Integration.Vm;

/// <summary>
/// The guest image that <c>make guest</c> (hack/build-guest.sh) writes to build/guest/, checked against
/// docs/design/guest.md: the floor image really boots under QEMU and powers off, and the archives hold
/// what the agent and the host side rely on.
/// </summary>
public sealed class GuestImageTests
{
    [Fact]
    public async Task The_floor_image_boots_prints_the_marker_with_the_guest_kernel_version_and_QEMU_exits_after_poweroff()
    {
        var image = GuestImage.Locate();
        var console = new StringBuilder();
        using var qemu = Guest.StartQemu(image, image.FloorCpio, console);
        try
        {
            using var bootCts = new CancellationTokenSource(Guest.BootTimeout);
            var marker = await Guest.ReadUntilMarkerAsync(qemu.StandardOutput, console, Guest.FloorMarker, bootCts.Token);
            marker.ShouldNotBeNull($"no {Guest.FloorMarker} line within {Guest.BootTimeout}; console:\n{Guest.Snapshot(console)}");

            // "CC-FLOOR-READY <uname -r> <uptime>" (hack/guest/floor-init.sh)
            var words = marker.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            words.Length.ShouldBeGreaterThanOrEqualTo(2, $"marker line: '{marker}'");
            words[1].ShouldBe(image.KernelVersion);

            await qemu.WaitForExitAsync(CancellationToken.None).WithTimeout(Guest.ExitTimeout);
            qemu.ExitCode.ShouldBe(0, $"console:\n{Guest.Snapshot(console)}");
            Guest.Snapshot(console).ShouldNotContain("CC-FLOOR-MODULE-FAILED");
        }
        finally
        {
            if (!qemu.HasExited)
            {
                qemu.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task Inside_the_guest_the_initramfs_runs_crun_resolves_the_agent_libraries_mounts_the_shared_directory_and_shows_the_agent_port()
    {
        var image = GuestImage.Locate();
        var work = System.IO.Directory.CreateTempSubdirectory("cc-guest-probe-");
        var console = new StringBuilder();
        Process? qemu = null;
        try
        {
            using var bootCts = new CancellationTokenSource(Guest.BootTimeout);
            var initrd = await Guest.WithProbeAsync(image, work.FullName, bootCts.Token);
            var shared = work.CreateSubdirectory("shared");
            var token = Guid.NewGuid().ToString("N");
            await File.WriteAllTextAsync(Path.Combine(shared.FullName, "probe.txt"), token, bootCts.Token);

            // The devices of docs/design/guest.md: the shared directory and the agent's port.
            qemu = Guest.StartQemu(
                image,
                initrd,
                console,
                rdinit: "/probe",
                "-fsdev", $"local,id=shared,path={shared.FullName},security_model=none",
                "-device", "virtio-9p-pci,fsdev=shared,mount_tag=ccshared",
                "-chardev", "null,id=agent",
                "-device", "virtio-serial-pci",
                "-device", "virtserialport,name=cc.agent.0,chardev=agent");
            var done = await Guest.ReadUntilMarkerAsync(qemu.StandardOutput, console, Guest.ProbeDone, bootCts.Token);
            done.ShouldNotBeNull($"no {Guest.ProbeDone} line within {Guest.BootTimeout}; console:\n{Guest.Snapshot(console)}");

            // hack/guest/probe-init.sh: one finding per line.
            var text = Guest.Snapshot(console);
            text.ShouldNotContain("CC-PROBE-MODULE-FAILED");
            Guest.Finding(text, "CC-PROBE-CRUN").ShouldStartWith("crun version ");
            var libraries = Guest.Finding(text, "CC-PROBE-AGENT-LIBS");
            libraries.ShouldContain("libc.so.6 => /");
            libraries.ShouldNotContain("not found");
            var filesystems = Guest.Finding(text, "CC-PROBE-FILESYSTEMS").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            filesystems.ShouldContain("9p");
            filesystems.ShouldContain("virtiofs");
            filesystems.ShouldContain("overlay");
            Guest.Finding(text, "CC-PROBE-SHARED").ShouldBe(token);
            Guest.Finding(text, "CC-PROBE-PORT").ShouldEndWith(" cc.agent.0");

            await qemu.WaitForExitAsync(CancellationToken.None).WithTimeout(Guest.ExitTimeout);
            qemu.ExitCode.ShouldBe(0);
        }
        finally
        {
            if (qemu is { HasExited: false })
            {
                qemu.Kill(entireProcessTree: true);
            }

            qemu?.Dispose();
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_initramfs_holds_the_agent_as_init_crun_the_loader_and_the_module_list()
    {
        var entries = NewcArchive.Read(GuestImage.Locate().InitramfsCpio);

        var init = Guest.Entry(entries, "init");
        init.IsRegularFile.ShouldBeTrue();
        (init.Mode & 0b001_001_001).ShouldBe(0b001_001_001u, "init must be executable");
        Guest.IsElf(init.Data).ShouldBeTrue("init must be the agent's ELF executable");

        Guest.IsElf(Guest.Entry(entries, "usr/bin/crun").Data).ShouldBeTrue("crun must be an ELF executable");
        Guest.Entry(entries, "lib64/ld-linux-x86-64.so.2").IsRegularFile.ShouldBeTrue();
        Guest.Entry(entries, "etc/cc/modules").IsRegularFile.ShouldBeTrue();
        Guest.Entry(entries, "dev/console").IsCharacterDevice.ShouldBeTrue();

        // No shell on the agent's boot path.
        entries.Keys.ShouldNotContain("bin/sh");
        entries.Keys.ShouldNotContain("bin/busybox");
    }

    [Fact]
    public void Every_module_named_in_the_module_list_is_in_the_initramfs_decompressed()
    {
        var entries = NewcArchive.Read(GuestImage.Locate().InitramfsCpio);
        var modules = Guest.ModuleList(entries);
        // A wanted module the kernel has built in (Debian 13's 6.12: virtio_pci, virtio_console, virtiofs) is in
        // etc/cc/modules.builtin instead of the load list; one in neither is missing from the guest.
        var builtin = Guest.BuiltinModules(entries);
        var present = modules.Concat(builtin).ToList();
        builtin.Intersect(modules).ShouldBeEmpty("a built-in module is not loaded again");

        // virtio_console carries the agent channel, 9p the shared directory, virtio_pci their transport.
        present.ShouldContain("virtio_pci");
        present.ShouldContain("virtio_console");
        present.ShouldContain("9pnet_virtio");
        present.ShouldContain("9p");
        // A pod may make Linux bridges (privileged, or CAP_NET_ADMIN) as it can under runc, where the host's kernel
        // loads the module on demand; the guest has no modprobe, so it is loaded at boot (critest "Privileged is true").
        present.ShouldContain("bridge");
        foreach (var name in modules)
        {
            var module = Guest.Entry(entries, $"lib/modules/cc/{name}.ko");
            Guest.IsElf(module.Data).ShouldBeTrue($"{name}.ko must be stored decompressed");
        }

        // Load order: every dependency comes before its user (a built-in virtio_pci brings virtio with it).
        if (modules.Contains("virtio_pci"))
        {
            modules.IndexOf("virtio").ShouldBeLessThan(modules.IndexOf("virtio_pci"));
        }

        modules.IndexOf("9pnet").ShouldBeLessThan(modules.IndexOf("9pnet_virtio"));
        modules.IndexOf("netfs").ShouldBeLessThan(modules.IndexOf("9p"));
    }

    [Fact]
    public void The_boot_module_list_is_the_agents_port_and_share_in_load_order_and_leaves_the_rest_for_later()
    {
        var entries = NewcArchive.Read(GuestImage.Locate().InitramfsCpio);
        var modules = Guest.ModuleList(entries);
        var boot = Guest.ModuleList(entries, "etc/cc/modules.boot");
        var vsock = Guest.ModuleList(entries, "etc/cc/modules.vsock");
        var builtin = Guest.BuiltinModules(entries);

        // What the agent needs before it answers: the transports, its port, the share (unless built in).
        foreach (var name in ((string[])["virtio_pci", "virtio_mmio", "virtio_console", "9pnet_virtio", "9p"]).Except(builtin))
        {
            boot.ShouldContain(name);
        }
        // AF_VSOCK's own modules, before ready only in a VM with a virtio-vsock device: in neither list's other half.
        vsock.ShouldBe(["vsock", "vmw_vsock_virtio_transport_common", "vmw_vsock_virtio_transport"]);
        boot.ShouldNotContain("vsock");
        vsock.ShouldBe(modules.Where(vsock.Contains).ToList());
        // Loaded after ready, before any request that could need them (docs/guest-image.md, "Modules").
        foreach (var name in ((string[])["virtio_net", "virtio_balloon", "virtio_mem", "overlay", "bridge", "virtiofs"]).Except(builtin))
        {
            modules.ShouldContain(name);
            boot.ShouldNotContain(name);
        }
        // A subset of the full list in its order, so every boot module's dependencies are boot modules before it.
        boot.ShouldBe(modules.Where(boot.Contains).ToList());
        if (boot.Contains("virtio_pci"))
        {
            boot.IndexOf("virtio").ShouldBeLessThan(boot.IndexOf("virtio_pci"));
        }

        boot.IndexOf("netfs").ShouldBeLessThan(boot.IndexOf("9p"));
    }

    [Fact]
    public void The_floor_image_loads_the_same_modules_as_the_initramfs()
    {
        var image = GuestImage.Locate();
        var initramfs = NewcArchive.Read(image.InitramfsCpio);
        var floor = NewcArchive.Read(image.FloorCpio);

        Guest.ModuleList(floor).ShouldBe(Guest.ModuleList(initramfs));
        foreach (var name in Guest.ModuleList(floor))
        {
            Guest.Entry(floor, $"lib/modules/cc/{name}.ko").Data
                .ShouldBe(initramfs[$"lib/modules/cc/{name}.ko"].Data, $"{name}.ko differs between the archives");
        }
    }

    [Fact]
    public void Every_archive_entry_is_owned_by_root_and_carries_one_fixed_mtime_so_rebuilds_are_byte_identical()
    {
        var image = GuestImage.Locate();
        foreach (var path in new[] { image.InitramfsCpio, image.FloorCpio })
        {
            var entries = NewcArchive.Read(path);
            entries.Values.ShouldAllBe(e => e.Uid == 0 && e.Gid == 0);
            entries.Values.Select(e => e.Mtime).Distinct().Count().ShouldBe(1, $"{path}: mtimes must all be SOURCE_DATE_EPOCH");
            // Sorted by path components, parents first (hack/guest/mkcpio.py): with '/' as the lowest
            // character, plain ordinal order is component order.
            var sorted = entries.Keys.OrderBy(k => k.Replace('/', '\0'), StringComparer.Ordinal).ToList();
            entries.Keys.ToList().ShouldBe(sorted, customMessage: $"{path}: entries must be sorted");
        }
    }
}

/// <summary>Boots a guest image under QEMU with the floor settings and reads its serial console.</summary>
file static class Guest
{
    // The command line of docs/design/guest.md without the agent's settings.
    private const string KernelCommandLine =
        "console=ttyS0 reboot=k panic=-1 quiet mitigations=off tsc=reliable no_timer_check i8042.noaux " +
        "i8042.nopnp 8250.nr_uarts=1 cryptomgr.notests";

    public const string FloorMarker = "CC-FLOOR-READY";

    public const string ProbeDone = "CC-PROBE-DONE";

    // A TCG boot takes 2-6 s on the project's 2-core machine; the bound allows for a loaded machine.
    public static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(60);

    // The floor powers off right after the marker; QEMU exits within a fraction of a second.
    public static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(15);

    // "\x7fELF": written as bytes because C#'s \x escape would swallow the hex-looking 'E'.
    private static readonly byte[] ElfMagic = [0x7F, (byte)'E', (byte)'L', (byte)'F'];

    public static bool IsElf(byte[] data) => data.AsSpan().StartsWith(ElfMagic);

    /// <summary>
    /// Writes initramfs.cpio followed by a second archive holding a static busybox and
    /// hack/guest/probe-init.sh as /probe (written by the repository's own mkcpio.py). The kernel
    /// unpacks concatenated archives in order, so the guest sees the real image plus the probe.
    /// </summary>
    public static async Task<string> WithProbeAsync(GuestImage image, string workDir, CancellationToken cancellationToken)
    {
        var probeCpio = Path.Combine(workDir, "probe.cpio");
        var start = new ProcessStartInfo("python3")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(image.RepoRoot, "hack", "guest", "mkcpio.py"));
        start.ArgumentList.Add(probeCpio);
        using (var mkcpio = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start"))
        {
            var stderr = mkcpio.StandardError.ReadToEndAsync(cancellationToken);
            await mkcpio.StandardInput.WriteAsync(
                $"file bin/busybox /usr/bin/busybox 0755\nfile probe {Path.Combine(image.RepoRoot, "hack", "guest", "probe-init.sh")} 0755\n");
            mkcpio.StandardInput.Close();
            await mkcpio.WaitForExitAsync(cancellationToken);
            mkcpio.ExitCode.ShouldBe(0, $"mkcpio.py failed: {await stderr}");
        }

        var combined = Path.Combine(workDir, "initramfs+probe.cpio");
        await using (var output = File.Create(combined))
        {
            foreach (var part in new[] { image.InitramfsCpio, probeCpio })
            {
                await using var input = File.OpenRead(part);
                await input.CopyToAsync(output, cancellationToken);
            }
        }

        return combined;
    }

    /// <summary>The rest of the console line that starts with <paramref name="prefix"/>; fails the test when there is none.</summary>
    public static string Finding(string console, string prefix)
    {
        var line = console.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(prefix + " ", StringComparison.Ordinal));
        line.ShouldNotBeNull($"no '{prefix}' line on the console:\n{console}");
        return line[(prefix.Length + 1)..];
    }

    public static string Snapshot(StringBuilder log)
    {
        lock (log)
        {
            return log.ToString();
        }
    }

    /// <summary>The entry named <paramref name="name"/>; fails the test when the archive lacks it.</summary>
    public static NewcEntry Entry(IReadOnlyDictionary<string, NewcEntry> entries, string name)
    {
        entries.TryGetValue(name, out var entry).ShouldBeTrue($"the archive has no '{name}'");
        return entry!;
    }

    public static List<string> ModuleList(IReadOnlyDictionary<string, NewcEntry> entries, string list = "etc/cc/modules") =>
        Encoding.ASCII.GetString(Entry(entries, list).Data)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToList();

    /// <summary>The wanted modules the image's kernel has built in (hack/build-guest.sh writes etc/cc/modules.builtin;
    /// empty for Debian 12's kernel, where every one is a module).</summary>
    public static List<string> BuiltinModules(IReadOnlyDictionary<string, NewcEntry> entries) => ModuleList(entries, "etc/cc/modules.builtin");

    /// <summary>Starts QEMU with the serial console on its stdout; its stderr lines go to <paramref name="log"/> (locked).</summary>
    public static Process StartQemu(GuestImage image, string initrd, StringBuilder log, string rdinit = "/init", params string[] devices)
    {
        var start = new ProcessStartInfo("qemu-system-x86_64")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The floor settings of docs/guest-image.md: PVH vmlinux, qboot, no default devices, TCG.
        foreach (var arg in new[]
                 {
                     "-machine", "q35", "-accel", "tcg,tb-size=64", "-bios", "/usr/share/qemu/qboot.rom",
                     "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
                     "-m", "256", "-kernel", image.Vmlinux, "-initrd", initrd, "-append", $"{KernelCommandLine} rdinit={rdinit}",
                 })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var arg in devices)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("qemu-system-x86_64 did not start");
        process.StandardInput.Close(); // the serial port's input: the floor reads nothing
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (log)
                {
                    log.Append("qemu: ").AppendLine(e.Data);
                }
            }
        };
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Returns the first console line that starts with <paramref name="marker"/>, or null at end of output or cancellation.</summary>
    public static async Task<string?> ReadUntilMarkerAsync(StreamReader output, StringBuilder console, string marker, CancellationToken cancellationToken)
    {
        try
        {
            while (await output.ReadLineAsync(cancellationToken) is { } line)
            {
                lock (console)
                {
                    console.AppendLine(line);
                }

                if (line.TrimStart().StartsWith(marker, StringComparison.Ordinal))
                {
                    return line.Trim();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        return null;
    }
}

/// <summary>The files of build/guest/ named by docs/design/guest.md.</summary>
file sealed record GuestImage(string RepoRoot)
{
    public string Directory => Path.Combine(RepoRoot, "build", "guest");

    public string Vmlinux => Path.Combine(Directory, "vmlinux");

    public string InitramfsCpio => Path.Combine(Directory, "initramfs.cpio");

    public string FloorCpio => Path.Combine(Directory, "floor.cpio");

    public string KernelVersion => File.ReadAllText(Path.Combine(Directory, "kernel-version")).Trim();

    /// <summary>Finds build/guest/ above the test binaries (the repository root holds ShimV2.sln).</summary>
    public static GuestImage Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ShimV2.sln")))
            {
                var image = new GuestImage(dir.FullName);
                foreach (var file in new[] { image.Vmlinux, image.InitramfsCpio, image.FloorCpio })
                {
                    File.Exists(file).ShouldBeTrue($"{file} is missing: run 'make guest'");
                }

                return image;
            }
        }

        throw new InvalidOperationException($"no ShimV2.sln above {AppContext.BaseDirectory}");
    }
}

/// <summary>One entry of a newc cpio archive.</summary>
file sealed record NewcEntry(string Name, uint Mode, uint Uid, uint Gid, uint Mtime, byte[] Data)
{
    private const uint TypeMask = 0xF000;

    public bool IsRegularFile => (Mode & TypeMask) == 0x8000;

    public bool IsCharacterDevice => (Mode & TypeMask) == 0x2000;
}

/// <summary>
/// Reads a newc ("070701") archive: a 110-byte ASCII header (magic, then 13 fields of 8 hex digits:
/// ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize,
/// check), the NUL-terminated name, the data; name and data are each padded to 4 bytes from the
/// archive's start. "TRAILER!!!" ends it.
/// </summary>
file static class NewcArchive
{
    private const int HeaderSize = 110;

    public static Dictionary<string, NewcEntry> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var entries = new Dictionary<string, NewcEntry>(StringComparer.Ordinal);
        var offset = 0;
        while (true)
        {
            (offset + HeaderSize).ShouldBeLessThanOrEqualTo(bytes.Length, $"{path}: truncated before the trailer");
            Encoding.ASCII.GetString(bytes, offset, 6).ShouldBe("070701", $"{path}: bad magic at {offset}");
            uint Field(int index) => uint.Parse(
                Encoding.ASCII.GetString(bytes, offset + 6 + (index * 8), 8), NumberStyles.HexNumber, CultureInfo.InvariantCulture);

            var (mode, uid, gid, mtime, size, nameSize) = (Field(1), Field(2), Field(3), Field(5), (int)Field(6), (int)Field(11));
            var name = Encoding.ASCII.GetString(bytes, offset + HeaderSize, nameSize - 1);
            offset = Align4(offset + HeaderSize + nameSize);
            if (name == "TRAILER!!!")
            {
                return entries;
            }

            entries.Add(name, new NewcEntry(name, mode, uid, gid, mtime, bytes.AsSpan(offset, size).ToArray()));
            offset = Align4(offset + size);
        }
    }

    private static int Align4(int value) => (value + 3) & ~3;
}
