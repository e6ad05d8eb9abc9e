#!/usr/bin/env bash
# Where a container's start goes inside the guest, in QEMU CPU time (docs/performance.md, "Where a cold start goes"):
# boots build/guest/initramfs.cpio with hack/guest/crun-probe.sh as rdinit=/probe (appended with a static busybox, as
# GuestImageTests does) under hack/guest/cpu-probe.py, and prints the median CPU ms of each step over the rounds: the
# boot module set and the rest, `crun --version`, and crun create/start/delete of `echo hello` from a busybox rootfs
# over 9p, each with crun as shipped and with crun bound read-only onto itself (what the agent does). A diagnostic,
# not part of `make bench`. BENCH_ROUNDS (8). Needs `make build guest` and busybox-static.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${BENCH_ROUNDS:-8}
for f in vmlinux initramfs.cpio; do
  [ -f "build/guest/$f" ] || { echo "crun-probe: build/guest/$f is missing: run 'make build guest'" >&2; exit 1; }
done
work=$(mktemp -d /tmp/cc-crun-probe.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/shared/rootfs/"{bin,proc,dev,sys,tmp}
cp /bin/busybox "$work/shared/rootfs/bin/busybox"
ln -s busybox "$work/shared/rootfs/bin/echo"
# The bench's container (integration/Cc.Bench/Vm/BusyboxBundle.cs) with the cgroup namespace the agent adds.
cat > "$work/config.json" <<'JSON'
{"ociVersion":"1.0.2","process":{"terminal":false,"user":{"uid":0,"gid":0},"args":["echo","hello"],"env":["PATH=/bin"],"cwd":"/"},
 "root":{"path":"/run/cc/shared/rootfs"},"hostname":"probe",
 "mounts":[{"destination":"/proc","type":"proc","source":"proc","options":["nosuid","noexec","nodev"]},
  {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]},
  {"destination":"/sys","type":"sysfs","source":"sysfs","options":["nosuid","noexec","nodev","ro"]}],
 "linux":{"namespaces":[{"type":"pid"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"}]}}
JSON
printf '%s\n' "dir bin 0755" "file bin/busybox /bin/busybox 0755" "file probe hack/guest/crun-probe.sh 0755" \
  "file probe-config.json $work/config.json 0644" | python3 hack/guest/mkcpio.py "$work/probe.cpio" >/dev/null
cat build/guest/initramfs.cpio "$work/probe.cpio" > "$work/initrd.cpio"
echo "crun-probe: $rounds rounds, load average $(cut -d' ' -f1 /proc/loadavg) at the start" >&2
timeout 1800 python3 hack/guest/cpu-probe.py qemu-system-x86_64 -machine q35 -accel tcg,tb-size=64 \
  -bios /usr/share/qemu/qboot.rom -nodefaults -no-user-config -display none -serial stdio -no-reboot -m 256 \
  -kernel build/guest/vmlinux -initrd "$work/initrd.cpio" \
  -append "console=ttyS0 reboot=k panic=-1 quiet mitigations=off tsc=reliable no_timer_check i8042.noaux i8042.nopnp 8250.nr_uarts=1 cryptomgr.notests rdinit=/probe cc.rounds=$rounds" \
  -fsdev "local,id=shared,path=$work/shared,security_model=none" -device virtio-9p-pci,fsdev=shared,mount_tag=ccshared \
  > "$work/steps.txt"
echo "crun-probe: load average $(cut -d' ' -f1 /proc/loadavg) at the end" >&2
python3 - "$work/steps.txt" <<'PY'
import collections, re, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"(\S+?)(?:\.\d+)? (.+) cpu_ms=(\S+) wall_ms=(\S+)", line.strip())
    if m and m[2] != "begin":
        rows[(m[1], m[2])].append((float(m[3]), float(m[4])))
print("| step | runs | QEMU CPU ms, median (min–max) | wall ms, median |")
print("|---|---:|---:|---:|")
for (case, what), v in rows.items():
    cpu = sorted(c for c, _ in v)
    print(f"| {case}: {what} | {len(v)} | {statistics.median(cpu):.0f} ({cpu[0]:.0f}–{cpu[-1]:.0f}) | {statistics.median(w for _, w in v):.0f} |")
PY
