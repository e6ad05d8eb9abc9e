#!/usr/bin/env bash
# Free page reporting part of `make bench` (docs/performance.md, "Memory: free pages back to the host"): one pod per
# setting of hypervisor.free_page_reporting (off, on), both cold, through a private containerd, each running
#   sh -c 'dd if=/dev/zero of=/dev/null bs=${BENCH_FILL_MIB}M count=1; sleep 600'
# (dd's one buffer is BENCH_FILL_MIB MiB of guest RAM, touched by the read and freed when dd exits; the container's
# /dev/shm would do too, but containerd sizes it 64 MiB); QEMU's RSS and PSS are read from /proc/<pid>/smaps_rollup
# BENCH_SETTLE_S (30) seconds after the container started, next to QEMU's peak (VmHWM). The two pods run one after the
# other, alternating over BENCH_N (1) rounds. Prints a markdown table (progress on stderr).
#   BENCH_N=1  BENCH_FILL_MIB=200  BENCH_SETTLE_S=30  BENCH_CONTAINERD=1.6|1.7
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
n=${BENCH_N:-1}
fill=${BENCH_FILL_MIB:-200}
settle=${BENCH_SETTLE_S:-30}
version=${BENCH_CONTAINERD:-1.6}
cc_config=$repo/build/configuration.toml
dir=
work=$(mktemp -d /tmp/cc-bench-free-pages.XXXXXX)

log() { echo "33-free-pages: $*" >&2; }
cleanup() {
  [ -z "$dir" ] || bash hack/containerd/stop.sh "$dir" >&2 || log "clean-up of $dir was incomplete"
  rm -rf "$work"
}
trap cleanup EXIT
[ -x build/bin/containerd-shim-cc-v2 ] && [ -f "$cc_config" ] || { log "run 'make build guest' first"; exit 1; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
mb() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }' || echo "n/a"; }
kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/$3" 2>/dev/null; }

# One configuration per setting: the build's, with the key set in its [hypervisor] table.
for setting in false true; do
  sed "/^\[hypervisor\]/a free_page_reporting = $setting" "$cc_config" >"$work/fpr-$setting.toml"
done

bash hack/images/build.sh busybox >&2 || { log "hack/images/build.sh failed"; exit 1; }
# shellcheck disable=SC1091
. build/images/images.env
dir=$(bash hack/containerd/start.sh --version "$version") || { log "containerd $version did not start"; exit 1; }
bash hack/containerd/ctr.sh "$dir" -n bench images import --base-name "$BUSYBOX_BASE" "$BUSYBOX_TAR" >/dev/null \
  || { log "image import failed"; exit 1; }
address=$dir/containerd.sock

# measure <setting> <round>: prints "rss pss hwm" of the pod's QEMU in kB, settle seconds after the start.
measure() {
  local setting=$1 id=fp-$1-$2 p qemu=
  if ! out=$(timeout 300 bash hack/containerd/ctr.sh "$dir" -n bench run -d --runtime io.containerd.cc.v2 \
      --runtime-config-path "$work/fpr-$setting.toml" "$BUSYBOX_IMAGE" "$id" \
      sh -c "dd if=/dev/zero of=/dev/null bs=${fill}M count=1; sleep 600" 2>&1); then
    log "$id did not start: $(tr '\n' ' ' <<<"$out" | cut -c1-200)"; echo; return
  fi
  sleep "$settle" # a measurement after a fixed time: what an idle pod holds then
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/exe" 2>/dev/null)" in
      */qemu-system-*) tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "TTRPC_ADDRESS=$address.ttrpc" && qemu=${p#/proc/} ;;
    esac
  done
  [ -n "$qemu" ] && echo "$(kb "$qemu" Rss smaps_rollup) $(kb "$qemu" Pss smaps_rollup) $(kb "$qemu" VmHWM status)"
  [ -n "$qemu" ] || echo
  timeout 60 bash hack/containerd/ctr.sh "$dir" -n bench task kill -s SIGKILL "$id" >/dev/null 2>&1
  timeout 60 bash hack/containerd/ctr.sh "$dir" -n bench task rm -f "$id" >/dev/null 2>&1 \
    || { sleep 2; timeout 60 bash hack/containerd/ctr.sh "$dir" -n bench task rm -f "$id" >/dev/null 2>&1; }
  timeout 60 bash hack/containerd/ctr.sh "$dir" -n bench container rm "$id" >/dev/null 2>&1
}

declare -A rss pss hwm
for setting in false true; do rss[$setting]="" pss[$setting]="" hwm[$setting]=""; done
load_before=$(cut -d' ' -f1 /proc/loadavg)
for round in $(seq "$n"); do
  for setting in false true; do
    log "round $round: free_page_reporting = $setting"
    read -r r p h <<<"$(measure "$setting" "$round")"
    [ -n "${r:-}" ] || continue
    rss[$setting]+="$r"$'\n' pss[$setting]+="$p"$'\n' hwm[$setting]+="$h"$'\n'
  done
done

echo
echo "### Free page reporting: QEMU of one idle cold pod ${settle} s after a ${fill} MiB fill was freed — containerd $version, $n round(s), $(date -u +%Y-%m-%d), $(nproc) cores, load $load_before → $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| free_page_reporting | QEMU RSS | QEMU PSS | QEMU peak RSS (VmHWM) | RSS ÷ off |"
echo "|---|---|---|---|---|"
off_rss=$(printf '%s' "${rss[false]}" | grep . | median)
for setting in false true; do
  r=$(printf '%s' "${rss[$setting]}" | grep . | median)
  ratio=$( [ -n "$r" ] && [ -n "$off_rss" ] && awk -v a="$r" -v b="$off_rss" 'BEGIN { printf "%.2f×", a / b }' || echo "n/a")
  echo "| $setting | $(mb "$r") | $(mb "$(printf '%s' "${pss[$setting]}" | grep . | median)") | $(mb "$(printf '%s' "${hwm[$setting]}" | grep . | median)") | $ratio |"
done
