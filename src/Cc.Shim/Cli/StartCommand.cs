using System.Net.Sockets;
using Cc.Shim.Lifetime;

namespace Cc.Shim.Cli;

/// <summary>What <c>start</c> did: the address to print, and whether it started a daemon or joined one.</summary>
/// <remarks>
/// <see cref="Listener"/> is the start process's copy of the listening socket. Do not dispose it: .NET unlinks the
/// socket file when a socket it bound is disposed, which would leave containerd nothing to dial. The process exit
/// closes it; tests dispose it when they are done with the file.
/// </remarks>
public sealed record StartResult(string Address, bool Joined, int DaemonPid, Socket? Listener);

/// <summary>
/// The <c>start</c> action (protocol.md §2.4): find or create the pod's socket, make sure something serves it before
/// returning, write <c>address</c> in the bundle. The caller prints only the address: containerd reads stdout and
/// stderr combined (pitfall 1), so this class writes nothing to either.
/// </summary>
public sealed class StartCommand
{
    private readonly string _socketDirectory;
    private readonly Func<ShimArguments, Socket, int> _spawnDaemon;

    /// <param name="socketDirectory">Where hashed sockets live; <see cref="SocketAddress.DefaultDirectory"/> in production.</param>
    /// <param name="spawnDaemon">Starts the daemon that serves the listening socket; returns its pid.</param>
    public StartCommand(string socketDirectory, Func<ShimArguments, Socket, int> spawnDaemon)
    {
        _socketDirectory = socketDirectory;
        _spawnDaemon = spawnDaemon;
    }

    /// <summary>The production daemon: this same executable with the daemon flags and the socket as fd 3.</summary>
    public static int SpawnSelf(ShimArguments args, Socket listener)
    {
        var executable = Environment.ProcessPath
            ?? throw new InvalidOperationException("cannot find the shim executable to spawn the daemon");
        return DaemonSpawner.Spawn(executable, DaemonArguments(args), listener);
    }

    /// <summary>The daemon's argv (no action word = daemon mode).</summary>
    public static IReadOnlyList<string> DaemonArguments(ShimArguments args)
    {
        var argv = new List<string> { "-namespace", args.Namespace, "-id", args.Id, "-address", args.Address };
        if (args.PublishBinary.Length > 0)
        {
            argv.AddRange(["-publish-binary", args.PublishBinary]);
        }
        if (args.Debug)
        {
            argv.Add("-debug");
        }
        return argv;
    }

    /// <param name="runDir">
    /// <c>runtime.run_dir</c> of the configuration this start was given (ConfigPath in the runtime options); when set, the
    /// bundle's <see cref="ShimState"/> records the sandbox's run directory under it before a daemon is spawned, so the
    /// daemon and a later <c>delete</c> use that directory.
    /// </param>
    public StartResult Run(ShimArguments args, string bundle, string? runDir = null)
    {
        if (args.Id.Length == 0 || args.Namespace.Length == 0)
        {
            throw new ShimUsageException("start needs -id and -namespace");
        }

        var annotations = SandboxGrouping.ReadAnnotations(bundle);
        var groupId = SandboxGrouping.GroupId(args.Id, annotations);
        var socketPath = args.Socket.Length > 0
            ? args.Socket
            : SocketAddress.SocketPath(args.Address, args.Namespace, groupId, _socketDirectory);
        var address = SocketAddress.ToAddress(socketPath);
        if (runDir is { Length: > 0 })
        {
            new ShimState { Namespace = args.Namespace, SandboxId = groupId, RunDirectory = Path.Combine(runDir, args.Namespace, groupId) }
                .Write(bundle);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(socketPath)!);
        var listener = TryListen(socketPath);
        if (listener is null)
        {
            if (Accepts(socketPath))
            {
                // Another task of this pod already has a daemon: join it. Every bundle gets its own address file,
                // or containerd 1.6/1.7 cannot reconnect this task after a restart (pitfall 3).
                BundleFiles.WriteAtomically(bundle, BundleFiles.Address, address);
                return new StartResult(address, Joined: true, DaemonPid: 0, Listener: null);
            }
            // A socket file nobody serves: a daemon that died without cleaning up. Take the name over.
            File.Delete(socketPath);
            listener = TryListen(socketPath)
                ?? throw new IOException($"socket {socketPath} is in use and does not accept connections");
        }

        var pid = _spawnDaemon(args, listener);
        BundleFiles.WriteAtomically(bundle, BundleFiles.Address, address);
        return new StartResult(address, Joined: false, DaemonPid: pid, Listener: listener);
    }

    /// <summary>Binds and listens; null when the path is already taken (EADDRINUSE).</summary>
    private static Socket? TryListen(string socketPath)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(socketPath));
            // Only our user (containerd's) may connect; the ttrpc server checks peer credentials as well.
            if (Cc.Hypervisor.Native.LibC.chmod(socketPath, Convert.ToInt32("600", 8)) != 0)
            {
                throw new IOException($"chmod {socketPath}: {Cc.Hypervisor.Native.LibC.ErrorText(System.Runtime.InteropServices.Marshal.GetLastPInvokeError())}");
            }
            socket.Listen(128);
            return socket;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            return null;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static bool Accepts(string socketPath)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(socketPath));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
