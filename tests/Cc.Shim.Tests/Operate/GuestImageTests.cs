using System.Text;
using Cc.Shim.Operate;

namespace Cc.Shim.Tests.Operate;

/// <summary>
/// GuestImage reads a kernel's release (bzImage setup header, or a vmlinux banner) and the vermagic of an initramfs's
/// modules, from files built here byte by byte in the formats the kernel defines; the integration tests read the real
/// guest image (OperateCommandTests).
/// </summary>
public sealed class GuestImageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("cc-guestimage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void A_bzImage_names_its_release_in_the_setup_header()
    {
        var image = new byte[0x1000];
        "HdrS"u8.CopyTo(image.AsSpan(0x202));
        // kernel_version is relative to 0x200.
        BitConverter.GetBytes((ushort)0x300).CopyTo(image, 0x20E);
        "6.6.9-cc (builder@host) #1 SMP\0"u8.CopyTo(image.AsSpan(0x500));

        GuestImage.KernelRelease(File("bzImage", image)).ShouldBe("6.6.9-cc");
    }

    [Fact]
    public void A_vmlinux_names_its_release_in_the_banner_even_across_read_boundaries()
    {
        // The banner straddles the 1 MiB read buffer.
        var image = new byte[(1 << 20) + 4096];
        var banner = "Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org) #1 SMP\0"u8;
        banner.CopyTo(image.AsSpan((1 << 20) - 10));

        GuestImage.KernelRelease(File("vmlinux", image)).ShouldBe("6.1.0-57-amd64");
    }

    [Fact]
    public void A_file_without_a_banner_has_no_release()
    {
        GuestImage.KernelRelease(File("junk", new byte[5000])).ShouldBeNull();
    }

    [Fact]
    public void The_initramfs_modules_releases_come_from_their_vermagic_across_concatenated_archives()
    {
        var archive = new MemoryStream();
        Cpio(archive, "init", "#!/bin/sh\n"u8.ToArray());
        Cpio(archive, "lib/modules/cc/9p.ko", Module("6.1.0-57-amd64"));
        Cpio(archive, "TRAILER!!!", []);
        archive.Write(new byte[512]);
        Cpio(archive, "lib/modules/cc/virtiofs.ko", Module("6.1.0-58-amd64"));
        Cpio(archive, "TRAILER!!!", []);

        var modules = GuestImage.InitramfsModuleReleases(File("initramfs.cpio", archive.ToArray()));

        modules.Modules.ShouldBe(2);
        modules.Releases.ShouldBe(["6.1.0-57-amd64", "6.1.0-58-amd64"]);
    }

    [Fact]
    public void Check_fails_the_initramfs_whose_modules_were_built_for_another_kernel_and_names_both()
    {
        var archive = new MemoryStream();
        Cpio(archive, "lib/modules/cc/9p.ko", Module("6.1.0-58-amd64"));
        Cpio(archive, "TRAILER!!!", []);
        var path = File("initramfs.cpio", archive.ToArray());

        var fact = HostChecks.Initramfs(path, "6.1.0-57-amd64");

        fact.Verdict.ShouldBe(FactVerdict.Failed);
        fact.Detail.ShouldContain("6.1.0-58-amd64");
        fact.Detail.ShouldContain("the kernel is 6.1.0-57-amd64");
        HostChecks.Initramfs(path, "6.1.0-58-amd64").Verdict.ShouldBe(FactVerdict.Ok);
    }

    // A .ko's .modinfo section holds NUL-separated key=value strings; vermagic's first word is the release.
    private static byte[] Module(string release) =>
        Encoding.ASCII.GetBytes($"\x7fELF....license=GPL\0vermagic={release} SMP preempt mod_unload modversions \0name=x\0");

    // newc: "070701" and 13 eight-digit hex fields (ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor
    // rdevminor namesize check), the NUL-terminated name, padding to 4, the data, padding to 4.
    private static void Cpio(Stream output, string name, byte[] data)
    {
        var nameBytes = Encoding.ASCII.GetBytes(name + "\0");
        var fields = new long[] { 1, 0x81A4, 0, 0, 1, 0, data.Length, 0, 0, 0, 0, nameBytes.Length, 0 };
        var header = "070701" + string.Concat(fields.Select(f => f.ToString("X8", System.Globalization.CultureInfo.InvariantCulture)));
        output.Write(Encoding.ASCII.GetBytes(header));
        output.Write(nameBytes);
        output.Write(new byte[(4 - ((110 + nameBytes.Length) % 4)) % 4]);
        output.Write(data);
        output.Write(new byte[(4 - (data.Length % 4)) % 4]);
    }
}
