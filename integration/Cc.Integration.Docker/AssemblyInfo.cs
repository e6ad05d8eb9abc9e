// One test at a time: the tests share one dockerd, look for leftover QEMU processes, and the host has 2 cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
