#!/bin/busybox sh
# A diagnostic /probe for the real initramfs, never part of it: GuestImageTests appends a small cpio
# holding this script and a static busybox to initramfs.cpio and boots with rdinit=/probe, to prove
# that what the image carries runs in the guest: crun with its libraries, the agent's library
# closure (the dynamic loader resolves every one), the modules (they load, their filesystems
# register), the shared directory (mounted as docs/design/guest.md says, when QEMU offers the tag
# ccshared) and the virtio-serial ports (by their sysfs names: there is no udev). Each finding is one
# console line starting with CC-PROBE-; CC-PROBE-DONE ends them.
bb=/bin/busybox
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
while read -r m; do
  $bb insmod "/lib/modules/cc/$m.ko" || echo "CC-PROBE-MODULE-FAILED $m"
done < /etc/cc/modules
echo "CC-PROBE-CRUN $(/usr/bin/crun --version 2>&1 | $bb head -1)"
echo "CC-PROBE-AGENT-LIBS $(/lib64/ld-linux-x86-64.so.2 --list /init 2>&1 | $bb tr '\n\t' '  ')"
echo "CC-PROBE-FILESYSTEMS $($bb awk '{ print $NF }' /proc/filesystems | $bb tr '\n' ' ')"
$bb mkdir -p /run/cc/shared
if $bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288,cache=mmap ccshared /run/cc/shared; then
  echo "CC-PROBE-SHARED $($bb cat /run/cc/shared/probe.txt 2>&1)"
fi
# Ports are probed asynchronously after virtio_console loads: wait up to 5 s for the first one.
for _ in 1 2 3 4 5 6 7 8 9 10; do
  [ -e /sys/class/virtio-ports ] && [ -n "$($bb ls /sys/class/virtio-ports)" ] && break
  $bb sleep 0.5
done
for p in /sys/class/virtio-ports/*; do
  [ -e "$p/name" ] && echo "CC-PROBE-PORT ${p##*/} $($bb cat "$p/name")"
done
echo "CC-PROBE-DONE"
$bb poweroff -f
