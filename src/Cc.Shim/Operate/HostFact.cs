namespace Cc.Shim.Operate;

/// <summary>How one fact of `check` bears on running pods.</summary>
public enum FactVerdict
{
    /// <summary>As needed.</summary>
    Ok,
    /// <summary>Pods run, but worse than they could (TCG instead of KVM, an optional feature missing).</summary>
    Warning,
    /// <summary>Pods cannot run until this is fixed.</summary>
    Failed,
}

/// <summary>One line of `check`: what was looked at, its verdict, and what was found (or what to do).</summary>
public sealed record HostFact(string Subject, FactVerdict Verdict, string Detail)
{
    /// <summary><c>ok   qemu: …</c>, <c>warn kvm: …</c>, <c>FAIL kernel: …</c>: the verdict first, so that grep and eyes find it.</summary>
    public string Line => $"{Verdict switch { FactVerdict.Ok => "ok  ", FactVerdict.Warning => "warn", _ => "FAIL" }} {Subject}: {Detail}";
}
