using Cc.Agent.Guest;

namespace Cc.Agent.Tests.Guest;

/// <summary>The kernel's CPU list format (/sys/devices/system/cpu/online) as OnlineCpus counts it.</summary>
public sealed class GuestCpusTests
{
    [Theory]
    [InlineData("0\n", 1)]
    [InlineData("0-1\n", 2)]
    [InlineData("0-2,4", 4)]
    [InlineData("0,2,5-7", 5)]
    [InlineData("", 0)]
    public void The_online_list_is_counted_range_by_range(string list, int count) =>
        GuestCpus.CountList(list).ShouldBe(count);
}
