namespace Cc.Hypervisor.Templates;

/// <summary>
/// One saved template VM: its RAM (<see cref="MemoryPath"/>, mapped copy-on-write by every clone) and its device state
/// (<see cref="StatePath"/>, loaded by every clone). A template directory exists under its key only once both are
/// complete: it is made under another name and renamed into place.
/// </summary>
public sealed record VmTemplate(string Key, string Directory)
{
    public string MemoryPath => Path.Combine(Directory, MemoryFileName);
    public string StatePath => Path.Combine(Directory, StateFileName);

    public const string MemoryFileName = "memory";
    public const string StateFileName = "state";
}
