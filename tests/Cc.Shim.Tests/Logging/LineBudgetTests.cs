using Cc.Shim.Logging;
using Cc.TestKit;

namespace Cc.Shim.Tests.Logging;

public sealed class LineBudgetTests
{
    [Fact]
    public void A_burst_passes_then_lines_are_counted_until_time_refills_the_budget()
    {
        var time = new ManualTimeProvider();
        var budget = new LineBudget(burst: 3, linesPerSecond: 2, time);

        Enumerable.Range(0, 5).Select(_ => budget.TryTake()).ShouldBe([true, true, true, false, false]);
        budget.Dropped.ShouldBe(2);

        time.Advance(TimeSpan.FromSeconds(1));
        Enumerable.Range(0, 3).Select(_ => budget.TryTake()).ShouldBe([true, true, false]);
        budget.TakeDropped().ShouldBe(3);
        budget.Dropped.ShouldBe(0);

        time.Advance(TimeSpan.FromHours(1));
        Enumerable.Range(0, 4).Count(_ => budget.TryTake()).ShouldBe(3, "the budget never holds more than the burst");
    }
}
