using System.Text.Json;

namespace Cc.Hypervisor.Qmp;

/// <summary>An asynchronous QMP event, e.g. SHUTDOWN, STOP, RESUME, DEVICE_DELETED.</summary>
/// <param name="Name">The event name as QEMU spells it (upper case).</param>
/// <param name="Data">The event's data object; an empty object when the event has none.</param>
/// <param name="Timestamp">QEMU's host wall-clock time of the event.</param>
public sealed record QmpEvent(string Name, JsonElement Data, DateTimeOffset Timestamp)
{
    /// <summary>Event names we act on; QEMU emits many more, all delivered.</summary>
    public const string Shutdown = "SHUTDOWN";
    public const string Stop = "STOP";
    public const string Resume = "RESUME";
    public const string DeviceDeleted = "DEVICE_DELETED";
    public const string Powerdown = "POWERDOWN";

    /// <summary>A virtio-serial port with a device id was opened or closed by the guest: data <c>{"id", "open"}</c>
    /// (QEMU 2.1+; a port without an <c>id</c> raises none).</summary>
    public const string VserportChange = "VSERPORT_CHANGE";
}

/// <summary>query-status's answer. <see cref="Status"/> is QEMU's RunState (running, paused,
/// shutdown, inmigrate, internal-error, ...).</summary>
public sealed record QmpStatus(string Status, bool Running);

/// <summary>The QEMU version from the greeting.</summary>
public sealed record QmpVersion(int Major, int Minor, int Micro, string Package)
{
    public override string ToString() => $"{Major}.{Minor}.{Micro}{(Package.Length > 0 ? $" ({Package.Trim()})" : "")}";
}
