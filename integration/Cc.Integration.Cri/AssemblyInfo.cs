// One test at a time: the tests share the private containerds, count QEMU processes before and after, and the host
// has 2 cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
