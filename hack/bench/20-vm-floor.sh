#!/usr/bin/env bash
# The bare VM floor: boots build/guest/floor.cpio (busybox /init that loads the guest's modules, prints
# CC-FLOOR-READY and powers off) with QEMU directly, BENCH_N times (default 5) per variant, and prints a
# markdown table of medians: wall time from QEMU's start to the marker on the serial console, the
# guest's own uptime at the marker, QEMU's peak RSS at the marker, and wall time to QEMU's exit.
# The first row is "the bare floor" that every later VM benchmark compares with; the settings are the
# fastest measured in floors.md (PVH vmlinux, -m 256, uncompressed cpio, tb-size=64, tuned command line,
# qboot, -nodefaults). The other rows show what those choices are worth on this machine.
# BENCH_GUEST=DIR boots another guest directory instead of build/guest; BENCH_BASELINE_GUEST=DIR adds the floor's
# variant with DIR's vmlinux and floor.cpio as a last row, in the same rounds (e.g. another guest kernel).
set -euo pipefail
cd "$(dirname "$0")/../.."

n=${BENCH_N:-5}
guest=${BENCH_GUEST:-build/guest}
baseline=${BENCH_BASELINE_GUEST:-}
probe=hack/guest/boot-probe.py
qemu=${QEMU:-qemu-system-x86_64}
for f in vmlinux vmlinuz floor.cpio kernel-version; do
  [ -f "$guest/$f" ] || { echo "20-vm-floor: $guest/$f is missing: run 'make guest'" >&2; exit 1; }
done
# TCG unless told otherwise: /dev/kvm can exist on machines where KVM does not work (this one's runs
# hang in the guest), so its presence proves nothing.
accel=${BENCH_ACCEL:-tcg}

# The kernel command line of docs/design/guest.md, without the agent's settings.
cmdline="console=ttyS0 reboot=k panic=-1 quiet mitigations=off tsc=reliable no_timer_check i8042.noaux i8042.nopnp 8250.nr_uarts=1 cryptomgr.notests rdinit=/init"
# microvm's guest calibrates the TSC against a timer it lacks; telling it the host's rate avoids the
# hangs floors.md saw. Under TCG the guest's TSC counts at the host's rate.
tsc_khz=$(awk '/^cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo)
accel_opts=(-accel "$accel")
[ "$accel" = tcg ] && accel_opts=(-accel tcg,tb-size=64)
common=(-nodefaults -no-user-config -display none -serial stdio -no-reboot -m 256 "${accel_opts[@]}")

declare -A args
variants=("q35, qboot, PVH vmlinux (the floor)" "microvm, PVH vmlinux, tsc_early_khz" "q35, qboot, bzImage vmlinuz")
args["${variants[0]}"]="-machine q35 -bios /usr/share/qemu/qboot.rom -kernel $guest/vmlinux -initrd $guest/floor.cpio"
args["${variants[1]}"]="-machine microvm -kernel $guest/vmlinux -initrd $guest/floor.cpio"
args["${variants[2]}"]="-machine q35 -bios /usr/share/qemu/qboot.rom -kernel $guest/vmlinuz -initrd $guest/floor.cpio"
if [ -n "$baseline" ]; then
  for f in vmlinux floor.cpio kernel-version; do
    [ -f "$baseline/$f" ] || { echo "20-vm-floor: $baseline/$f is missing" >&2; exit 1; }
  done
  variants+=("q35, qboot, PVH vmlinux, baseline guest $(cat "$baseline/kernel-version")")
  args["${variants[3]}"]="-machine q35 -bios /usr/share/qemu/qboot.rom -kernel $baseline/vmlinux -initrd $baseline/floor.cpio"
fi

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "–" hi }'; }

echo
# TCG boot time scales with free CPU: the load average goes in the heading so numbers taken on a
# busy machine are read as such.
echo "### VM boot floor: floor.cpio, $n runs each, $accel, kernel $(cat "$guest/kernel-version"), QEMU $($qemu --version | head -1 | awk '{ print $4 }'), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| Variant | wall to marker (median, range) | guest uptime | QEMU peak RSS | wall to QEMU exit | failed |"
echo "|---|---|---|---|---|---|"
# Rounds, not blocks: each round boots every variant once, so a change in the machine's load during
# the run falls on all variants alike instead of on whichever ran last.
declare -A results failed
for v in "${variants[@]}"; do results[$v]="" failed[$v]=0; done
for _ in $(seq "$n"); do
  for v in "${variants[@]}"; do
    append=$cmdline
    case "$v" in microvm*) append="$cmdline tsc_early_khz=$tsc_khz" ;; esac
    # shellcheck disable=SC2086  # args[] holds words on purpose
    if line=$(python3 "$probe" 60 CC-FLOOR-READY "$qemu" "${common[@]}" ${args[$v]} -append "$append"); then
      results[$v]+="$line"$'\n'
    else
      failed[$v]=$((failed[$v] + 1))
    fi
  done
done
for v in "${variants[@]}"; do
  field() { printf '%s' "${results[$v]}" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }
  if [ -z "${results[$v]}" ]; then
    echo "| $v | - | - | - | - | ${failed[$v]} |"
    continue
  fi
  wall=$(field wall_ms | median) wall_range=$(field wall_ms | range)
  echo "| $v | **$(awk -v m="$wall" 'BEGIN { printf "%.2f s", m / 1000 }')** (${wall_range} ms) | $(field uptime_s | median) s | $(field rss_kb | median | awk '{ printf "%.0f MB", $1 / 1024 }') | $(field exit_ms | median | awk '{ printf "%.2f s", $1 / 1000 }') | ${failed[$v]} |"
done
echo
echo "QEMU command (the floor): $qemu ${common[*]} ${args[${variants[0]}]} -append \"$cmdline\""
