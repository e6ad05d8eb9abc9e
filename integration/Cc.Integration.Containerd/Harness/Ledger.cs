namespace Cc.Integration.Containerd.Harness;

/// <summary>
/// The task ids of the whole run, for the suite's final leak check (hack/check-leftovers.sh): hack/run-tests.sh names a
/// file in CC_TEST_LEDGER and every id made here is appended to it as "&lt;containerd address&gt;/&lt;ns&gt;/&lt;id&gt;",
/// the string whose sha256 names the task's shim socket. Without the variable (a single `dotnet test`) nothing is kept.
/// </summary>
internal static class Ledger
{
    private static readonly Lock s_gate = new();

    public static void Record(string address, string ns, string id)
    {
        if (Environment.GetEnvironmentVariable("CC_TEST_LEDGER") is not { Length: > 0 } path)
        {
            return;
        }
        lock (s_gate)
        {
            File.AppendAllText(path, $"{address}/{ns}/{id}\n");
        }
    }
}
