namespace Cc.Fuzz;

/// <summary>A target's own invariant did not hold: always a finding, never an expected exception.</summary>
public sealed class FuzzFindingException(string message) : Exception(message);
