using System.Runtime.Versioning;

// The shim is Linux-only: unix sockets, FIFOs, posix_spawn, prctl, QEMU.
[assembly: SupportedOSPlatform("linux")]
