#!/usr/bin/env bash
# Concurrent start part of `make bench`: how the cost of a pod start grows when 1, 4 and 8 pods start at once.
# Each sample is one `ctr run --rm <busybox> /bin/true` timed from its own start to its own exit, with N of them
# launched together through one private containerd: runc, ours cold, ours from a template ([factory] template = true
# after `containerd-shim-cc-v2 factory init`, not timed: every timed run is a clone), and the bare VM boot floor (N
# QEMUs booting floor.cpio to init and powering off at once, hack/guest/boot-probe.py, "wall to QEMU exit").
# Rounds are interleaved (round → N → runtime), so a change in the machine's load falls on every column alike.
# Prints a markdown table of medians with the spread (min–max) and ratios; failures are counted, never estimated.
#   BENCH_ROUNDS=3 (rounds; N × rounds samples per cell)  BENCH_CONCURRENCY="1 4 8"  BENCH_CONTAINERD=1.6|1.7
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
rounds=${BENCH_ROUNDS:-3}
read -r -a sizes <<<"${BENCH_CONCURRENCY:-1 4 8}"
version=${BENCH_CONTAINERD:-1.6}
shim=$repo/build/bin/containerd-shim-cc-v2
cc_config=$repo/build/configuration.toml
guest=build/guest
qemu=${QEMU:-qemu-system-x86_64}
dir=
tpl_dir=
samples=$(mktemp -d /tmp/cc-bench-conc.XXXXXX)

log() { echo "35-concurrent: $*" >&2; }
cleanup() {
  [ -z "$dir" ] || bash hack/containerd/stop.sh "$dir" >&2 || log "clean-up of $dir was incomplete"
  [ -z "$tpl_dir" ] || { "$shim" factory destroy --config "$tpl_dir.toml" >&2; rm -f "$tpl_dir.toml"; rm -rf "$tpl_dir"; }
  rm -rf "$samples"
}
trap cleanup EXIT
now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
spread() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%.1f–%.1f", lo / 1000, hi / 1000 }'; }
cell() {
  local f=$samples/$1-$2 m
  [ -f "$f" ] || { echo "n/a"; return; }
  m=$(median <"$f")
  awk -v m="$m" -v s="$(spread <"$f")" 'BEGIN { printf "%.2f s (%s)", m / 1000, s }'
}
ratio() {
  local a= b=
  [ -f "$samples/$1-$3" ] && a=$(median <"$samples/$1-$3")
  [ -f "$samples/$2-$3" ] && b=$(median <"$samples/$2-$3")
  [ -n "$a" ] && [ -n "$b" ] && [ "$b" != 0 ] && awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f×", a / b }' || echo "n/a"
}
fails() { cat "$samples"/*.fail 2>/dev/null | awk -F'\t' '{ n[$1]++; last[$1] = $2 } END { for (k in n) printf "- %s: %d failed run(s), last: %s\n", k, n[k], last[k] }'; }

bash hack/images/build.sh busybox >&2 || { log "hack/images/build.sh failed"; exit 1; }
# shellcheck disable=SC1091
. build/images/images.env
for f in vmlinux floor.cpio; do [ -f "$guest/$f" ] || { log "$guest/$f is missing: run 'make guest'"; exit 1; }; done
[ -x "$shim" ] || { log "$shim is missing: run 'make build'"; exit 1; }
dir=$(bash hack/containerd/start.sh --version "$version") || { log "containerd $version did not start"; exit 1; }
bash hack/containerd/ctr.sh "$dir" -n bench images import --base-name "$BUSYBOX_BASE" "$BUSYBOX_TAR" >/dev/null \
  || { log "image import failed"; exit 1; }

# Templates: the run_dir's sibling in tmpfs (the template's RAM is a file there), removed by cleanup.
run_dir=$(sed -nE 's/^[[:space:]]*run_dir[[:space:]]*=[[:space:]]*"([^"]+)".*/\1/p' "$cc_config" 2>/dev/null | head -1)
tpl_dir=${run_dir:-/run/cc}-bench-templates-$$
mkdir -p "$tpl_dir"
{ cat "$cc_config"; printf '\n[factory]\ntemplate = true\ndirectory = "%s"\n' "$tpl_dir/t"; } >"$tpl_dir.toml"
log "factory init (a cold boot and a save; not timed)"
"$shim" factory init --config "$tpl_dir.toml" >&2 || { log "factory init failed"; exit 1; }

declare -A opts
opts[runc]="--runtime io.containerd.runc.v2"
opts[cold]="--runtime io.containerd.cc.v2 --runtime-config-path $cc_config"
opts[template]="--runtime io.containerd.cc.v2 --runtime-config-path $tpl_dir.toml"
floor_args=(-nodefaults -no-user-config -display none -serial stdio -no-reboot -m 256 -accel tcg,tb-size=64
  -machine q35 -bios /usr/share/qemu/qboot.rom -kernel "$guest/vmlinux" -initrd "$guest/floor.cpio"
  -append "console=ttyS0 reboot=k panic=-1 quiet mitigations=off tsc=reliable no_timer_check i8042.noaux i8042.nopnp 8250.nr_uarts=1 cryptomgr.notests rdinit=/init")

# one <runtime> <N> <i> <round>: one timed start; appends its wall ms to the cell's file, or a failure line.
one() {
  local runtime=$1 n=$2 i=$3 round=$4 start out ms
  start=$(now_ms)
  if [ "$runtime" = floor ]; then
    if out=$(python3 hack/guest/boot-probe.py 600 CC-FLOOR-READY "$qemu" "${floor_args[@]}" 2>&1); then
      ms=$(tr ' ' '\n' <<<"$out" | awk -F= '$1 == "exit_ms" { print $2 }')
    fi
  else
    # shellcheck disable=SC2086  # opts[] holds words on purpose
    out=$(timeout 600 bash hack/containerd/ctr.sh "$dir" -n bench run --rm ${opts[$runtime]} "$BUSYBOX_IMAGE" \
      "c-$runtime-$n-$i-$round" /bin/true 2>&1) && ms=$(($(now_ms) - start))
  fi
  if [ -n "${ms:-}" ]; then echo "$ms" >>"$samples/$runtime-$n"; else
    printf '%s, %s at once\t%s\n' "$runtime" "$n" "$(tr '\n' ' ' <<<"$out" | cut -c1-200)" >>"$samples/$runtime-$n-$i-$round.fail"
  fi
}

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$rounds"); do
  for n in "${sizes[@]}"; do
    for runtime in runc cold template floor; do
      log "round $round/$rounds: $n at once, $runtime"
      for i in $(seq "$n"); do one "$runtime" "$n" "$i" "$round" & done
      wait
    done
  done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "### Pods starting at once: \`ctr run --rm busybox /bin/true\` — containerd $version, $rounds round(s), $(date -u +%Y-%m-%d), $(nproc) cores, load $load_start → $load_end"
echo
echo "| At once | runc | ours, cold | ours, from a template | VM floor (boot + power-off) | template / runc | cold / floor | template / cold |"
echo "|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  echo "| $n | $(cell runc "$n") | $(cell cold "$n") | $(cell template "$n") | $(cell floor "$n") | $(ratio template runc "$n") | $(ratio cold floor "$n") | $(ratio template cold "$n") |"
done
echo
echo "Each cell: median wall time of one start (its own start to its own exit), min–max in seconds; $rounds × N samples per cell."
fails
exit 0
