// One test at a time: the tests share two containerd instances, count QEMU processes before and
// after, and the host has 2 cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
