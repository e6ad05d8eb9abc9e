using System.Diagnostics;

namespace Cc.Fuzz;

/// <summary>What a bounded run found: how many inputs ran, and the first failures with the input that caused each.</summary>
public sealed record MutationRunResult(string Target, long Inputs, TimeSpan Elapsed, IReadOnlyList<(string Failure, byte[] Input)> Failures);

/// <summary>
/// The in-process fuzz run: the target's seeds (and any corpus files) mutated deterministically, each input checked for
/// an unexpected exception, a slow input (over <see cref="SlowInput"/>) and an allocation out of proportion to its
/// size (over <see cref="AllocationBudget"/>). No coverage feedback: that is what the AFL++ run adds (hack/fuzz.sh).
/// </summary>
public static class MutationRun
{
    public static readonly TimeSpan SlowInput = TimeSpan.FromSeconds(2);

    /// <summary>What one input may allocate on the calling thread: a fixed allowance plus 64 bytes per input byte.</summary>
    public static long AllocationBudget(int inputLength) => (8L << 20) + 64L * inputLength;

    public static MutationRunResult Run(IFuzzTarget target, long inputs, int seed, IEnumerable<byte[]>? corpus = null,
        int maxFailures = 10)
    {
        var seeds = target.Seeds().Select(s => s.Bytes).Concat(corpus ?? []).ToList();
        var mutator = new Mutator(seed);
        var failures = new List<(string, byte[])>();
        var watch = Stopwatch.StartNew();
        long ran = 0;
        for (; ran < inputs && failures.Count < maxFailures; ran++)
        {
            var input = ran < seeds.Count ? seeds[(int)ran] : mutator.Mutate(seeds[(int)(ran % seeds.Count)], seeds);
            if (Check(target, input) is { } failure)
            {
                failures.Add((failure, input));
            }
        }
        return new MutationRunResult(target.Name, ran, watch.Elapsed, failures);
    }

    /// <summary>Runs one input; null when it passed, else what went wrong.</summary>
    public static string? Check(IFuzzTarget target, byte[] input)
    {
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var started = Stopwatch.GetTimestamp();
        try
        {
            target.Run(input);
        }
        catch (Exception e) when (target.IsExpected(e))
        {
        }
        catch (Exception e)
        {
            return $"{e.GetType().FullName}: {e.Message}\n{e.StackTrace}";
        }
        var elapsed = Stopwatch.GetElapsedTime(started);
        if (elapsed > SlowInput)
        {
            return $"slow input: {elapsed.TotalMilliseconds:F0} ms";
        }
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        return allocated > AllocationBudget(input.Length)
            ? $"allocated {allocated} bytes for a {input.Length}-byte input (budget {AllocationBudget(input.Length)})"
            : null;
    }
}
