namespace Cc.Fuzz;

/// <summary>
/// One fuzz target: a parser fed bytes it did not choose. <see cref="Run"/> must return, or throw only what
/// <see cref="IsExpected"/> accepts (the parser's documented way of saying "malformed"); anything else — another
/// exception, a hang past the caller's bound, an allocation out of proportion to the input — is a finding.
/// </summary>
public interface IFuzzTarget
{
    string Name { get; }

    /// <summary>Inputs that reach deep into the parser, written to corpus/&lt;name&gt;/ by `Cc.Fuzz corpus`.</summary>
    IEnumerable<(string Name, byte[] Bytes)> Seeds();

    void Run(ReadOnlySpan<byte> input);

    bool IsExpected(Exception e);
}

public static class FuzzTargets
{
    public static IReadOnlyList<IFuzzTarget> All { get; } =
    [
        new Targets.FrameTarget(),
        new Targets.RequestEnvelopeTarget(),
        new Targets.ResponseEnvelopeTarget(),
        new Targets.ServerConnectionTarget(),
        new Targets.AgentRequestTarget(),
    ];

    public static IFuzzTarget Find(string name) =>
        All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"unknown target {name}; targets: {string.Join(", ", All.Select(t => t.Name))}");
}
