namespace Cc.Fuzz.Tests;

/// <summary>
/// The short smoke `make test` runs of every fuzz target: the kept corpus (tests/Cc.Fuzz/corpus, seeds plus what the
/// AFL++ runs of `make fuzz` kept) and a fixed number of deterministic mutations of it, each input checked for an
/// unexpected exception, a slow input and an allocation out of proportion to its size. `make fuzz` runs the same
/// targets for a million inputs each and under AFL++.
/// </summary>
public sealed class FuzzSmokeTests
{
    public static TheoryData<string> Targets => new(FuzzTargets.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Targets))]
    public void A_target_survives_its_corpus_and_twenty_thousand_mutations(string name)
    {
        var target = FuzzTargets.Find(name);
        var inputs = name == "server" ? 2_000 : 20_000;

        var result = MutationRun.Run(target, inputs, seed: 20261204, Corpus(name));

        result.Inputs.ShouldBe(inputs);
        result.Failures.ShouldBeEmpty(string.Join("\n", result.Failures.Select(f => $"{Convert.ToHexString(f.Input)}: {f.Failure}")));
    }

    [Fact]
    public void Every_target_has_its_seeds_in_the_kept_corpus()
    {
        foreach (var target in FuzzTargets.All)
        {
            var kept = Corpus(target.Name).ToHashSet(ByteArrayComparer.Instance);
            foreach (var (seedName, bytes) in target.Seeds())
            {
                kept.ShouldContain(bytes, $"corpus/{target.Name}/{seedName} is missing or stale: run `Cc.Fuzz corpus tests/Cc.Fuzz/corpus`");
            }
        }
    }

    private static List<byte[]> Corpus(string target)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "corpus", target);
        return Directory.Exists(dir)
            ? Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList()
            : [];
    }

    private sealed class ByteArrayComparer : IEqualityComparer<byte[]>
    {
        public static readonly ByteArrayComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => obj.Length;
    }
}
