#!/bin/busybox sh
# A diagnostic /probe for the real initramfs, never part of it (hack/crun-probe.sh appends it with a static
# busybox and boots rdinit=/probe under hack/guest/cpu-probe.py): what each crun command costs the guest, with crun as
# the image ships it and with crun bound read-only onto itself as the agent does at boot (docs/performance.md, "Where a
# cold start goes"). Every "CC-T <step>" line is followed by a read of the console: the host samples QEMU's CPU time,
# then answers with a newline. Each step is named "<case>.<round> <what>": the host charges it with the time since the
# line before it.
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
$bb mount -t tmpfs tmpfs /run
$bb mount -t cgroup2 cgroup2 /sys/fs/cgroup
for c in $($bb cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control; done
$bb stty -echo 2>/dev/null
mark() { echo "CC-T $1"; read -r _; }
mark "kernel /probe-runs"
while read -r m; do $bb insmod "/lib/modules/cc/$m.ko" 2>/dev/null; done < /etc/cc/modules.boot
mark "modules boot-set"
while read -r m; do $bb insmod "/lib/modules/cc/$m.ko" 2>/dev/null; done < /etc/cc/modules
mark "modules the-rest"
$bb mkdir -p /run/cc/shared /run/crun
$bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=mmap ccshared /run/cc/shared
n=0
container() { # case
  n=$((n + 1)); b=/run/bundle$n
  $bb mkdir -p "$b"; $bb cp /probe-config.json "$b/config.json"
  mark "$1 begin"
  /usr/bin/crun --root /run/crun create --no-pivot --bundle "$b" --pid-file "$b/pid" "c$n" </dev/null >/dev/null 2>&1 \
    || echo "CC-PROBE-FAILED $1 create"
  mark "$1 create"
  /usr/bin/crun --root /run/crun start "c$n" </dev/null >/dev/null 2>&1 || echo "CC-PROBE-FAILED $1 start"
  mark "$1 start"
  /usr/bin/crun --root /run/crun delete -f "c$n" >/dev/null 2>&1
  mark "$1 delete"
}
rounds=$($bb sed -n 's/.*cc.rounds=\([0-9]*\).*/\1/p' /proc/cmdline)
for r in $($bb seq "${rounds:-8}"); do
  mark "as-shipped.$r begin"; /usr/bin/crun --version >/dev/null; mark "as-shipped.$r --version"
  container "as-shipped.$r"
  $bb mount --bind /usr/bin/crun /usr/bin/crun && $bb mount -o remount,bind,ro /usr/bin/crun
  mark "read-only.$r begin"; /usr/bin/crun --version >/dev/null; mark "read-only.$r --version"
  container "read-only.$r"
  $bb umount /usr/bin/crun
done
echo "CC-PROBE-DONE"
$bb poweroff -f
