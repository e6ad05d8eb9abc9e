#!/bin/busybox sh
# /init of floor.cpio, the bare reference every VM benchmark compares with: the least a guest can do
# that is still comparable to our agent's boot (the same kernel, the same modules, a console line).
# A shell is fine here and only here: the real initramfs runs the agent as /init, with no shell.
# Prints "CC-FLOOR-READY <uname -r> <uptime seconds> init=<uptime when /init began>" on the console, then
# powers off at once, which QEMU turns into its exit (the two uptimes split kernel boot from module loading).
bb=/bin/busybox
$bb mount -t proc proc /proc
read -r init_up _ < /proc/uptime
while read -r m; do
  $bb insmod "/lib/modules/cc/$m.ko" || echo "CC-FLOOR-MODULE-FAILED $m"
done < /etc/cc/modules
read -r up _ < /proc/uptime
echo "CC-FLOOR-READY $($bb uname -r) $up init=$init_up"
$bb poweroff -f
