#!/bin/busybox sh
# A diagnostic /probe for the real initramfs, never part of it: GuestImageTests appends a small cpio
# holding this script and a static busybox to initramfs.cpio and boots with rdinit=/probe, to prove
# that what the image carries runs in the guest: crun with its libraries, the agent's library
# closure (the dynamic loader resolves every one), and the modules (they load, their filesystems
# register). Each finding is one console line starting with CC-PROBE-; CC-PROBE-DONE ends them.
bb=/bin/busybox
$bb mount -t proc proc /proc
while read -r m; do
  $bb insmod "/lib/modules/cc/$m.ko" || echo "CC-PROBE-MODULE-FAILED $m"
done < /etc/cc/modules
echo "CC-PROBE-CRUN $(/usr/bin/crun --version 2>&1 | $bb head -1)"
echo "CC-PROBE-AGENT-LIBS $(/lib64/ld-linux-x86-64.so.2 --list /init 2>&1 | $bb tr '\n\t' '  ')"
echo "CC-PROBE-FILESYSTEMS $($bb awk '{ print $NF }' /proc/filesystems | $bb tr '\n' ' ')"
echo "CC-PROBE-DONE"
$bb poweroff -f
