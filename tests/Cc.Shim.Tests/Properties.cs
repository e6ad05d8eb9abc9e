// The shim and its tests are Linux-only (unix sockets, FIFOs, posix_spawn).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
