#!/usr/bin/env bash
# make stress: load on the whole runtime, then the suite's leak check (docs/reliability.md, "Stress"). Not part of
# `make test`. Needs `make build guest` (and the test images: hack/images/build.sh, run here).
#   1. ctr (containerd 1.6, hack/containerd/start.sh): STRESS_CYCLES (100) containers one after another, each
#      `ctr run -d`, one `ctr task exec`, `ctr task rm -f`, `ctr container rm`; then STRESS_PODS (8) of those cycles at
#      once; then one long-lived container serving STRESS_EXECS (200) `ctr task exec`s with its shim's VmRSS after the
#      first, every 50th and the last; then hack/check-leftovers.sh --instance while that containerd still runs (its
#      stop.sh kills and deletes what is left, which would hide a leak from the check in 3).
#   2. CRI (containerd 1.7 --cri, `Cc.Bench cri-stress`): the same counts of whole pod cycles (RunPodSandbox …
#      RemovePodSandbox, one ExecSync each), then one long-lived pod serving STRESS_EXECS (200) ExecSyncs with the
#      shim's VmRSS after the first, every 50th and the last; then every pod's and the instance's leak check, before
#      that containerd stops (Cc.Bench/Stress/CriStressLeftovers.cs).
#   3. hack/check-leftovers.sh with the ledger of every task id made here: nothing may be left (run directories,
#      mounts, processes naming run_dir, shim sockets, shim processes and their children).
# Tables go to build/stress/report.md (STRESS_OUT: another directory). Fewer cycles for a quick run:
# STRESS_CYCLES=10 STRESS_PODS=4 make stress; one path only: STRESS_PARTS=ctr (or cri).
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
cycles=${STRESS_CYCLES:-100}
pods=${STRESS_PODS:-8}
execs=${STRESS_EXECS:-200}
parts=${STRESS_PARTS:-ctr cri}
out=${STRESS_OUT:-build/stress}
mkdir -p "$out"
report=$out/report.md
ledger=$out/ledger
: > "$ledger"
for f in build/bin/containerd-shim-cc-v2 build/guest/vmlinux build/guest/initramfs.cpio build/configuration.toml; do
  [ -e "$f" ] || { echo "stress: $f is missing: run 'make build guest'" >&2; exit 1; }
done
bash hack/images/build.sh >&2
. build/images/images.env
failed=0
echo "# make stress — $(date -u +%Y-%m-%dT%H:%MZ) — $(nproc) cores, cycles $cycles, pods $pods, execs $execs, parts $parts, commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- 2>/dev/null || echo +changes), load $(cut -d' ' -f1-3 /proc/loadavg)" > "$report"

# --- 1. ctr -------------------------------------------------------------------------------------------------------
# The shim daemon serving task $1 of the instance at $dir (argv: -namespace <ns> -id <id> -address <socket>).
shim_pid() {
  local file args
  for file in $(grep -lF -- "$dir/containerd.sock" /proc/[0-9]*/cmdline 2>/dev/null); do
    args=$( { tr '\0' ' ' < "$file"; } 2>/dev/null) || continue
    # Two patterns: adjacent arguments share the space between them.
    case "$args" in *containerd-shim-cc-v2*" -id $1 "*) ;; *) continue ;; esac
    case "$args" in *" -address $dir/containerd.sock "*) file=${file#/proc/}; echo "${file%/cmdline}"; return 0 ;; esac
  done
  return 1
}
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# One container serving $execs `ctr task exec`s; prints "<passed> <first MiB> <last MiB> <curve>" (the curve: the
# shim's VmRSS after exec 1, every 50th and the last).
rss_over_execs() {
  local id=rss pid i said passed=0 first= last= curve=
  echo "$dir/containerd.sock/$ns/$id" >> "$ledger"
  ctr run -d --runtime io.containerd.cc.v2 --runtime-config-path "$PWD/build/configuration.toml" "$BUSYBOX_IMAGE" "$id" \
    sh -c 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done' >/dev/null || { echo "0 - - run failed"; return 1; }
  if ! pid=$(shim_pid "$id"); then
    echo "0 - - no shim process names $id"
    ctr task rm -f "$id" >/dev/null; ctr container rm "$id" >/dev/null
    return 1
  fi
  for i in $(seq 1 "$execs"); do
    said=$(ctr task exec --exec-id "e$i" "$id" echo "exec $i") && [ "$said" = "exec $i" ] || { echo "$id: exec $i failed: '$said'" >&2; break; }
    passed=$i
    if [ "$i" -eq 1 ]; then
      first=$(rss_mib "$pid") curve="1: $(rss_mib "$pid")"
    elif [ $((i % 50)) -eq 0 ] && [ "$i" -lt "$execs" ]; then
      curve="$curve, $i: $(rss_mib "$pid")"
      echo "stress: ctr exec $i/$execs: shim VmRSS $(rss_mib "$pid") MiB" >&2
    fi
  done
  last=$(rss_mib "$pid") curve="$curve, $passed: $(rss_mib "$pid")"
  ctr task rm -f "$id" >/dev/null || echo "$id: task rm failed" >&2
  ctr container rm "$id" >/dev/null || echo "$id: container rm failed" >&2
  echo "$passed ${first:--} ${last:--} $curve"
  [ "$passed" -eq "$execs" ]
}

if [[ " $parts " == *" ctr "* ]]; then
dir=$(hack/containerd/start.sh --version 1.6)
trap 'hack/containerd/stop.sh "$dir" >/dev/null 2>&1 || true' EXIT
ns=stress
ctr() { hack/containerd/ctr.sh "$dir" -n "$ns" "$@"; }
ctr images import --base-name "$BUSYBOX_BASE" "$BUSYBOX_TAR" >/dev/null

# One container's whole life through ctr; prints nothing and returns 0 when every step did what it should.
cycle() {
  local id=$1 said
  echo "$dir/containerd.sock/$ns/$id" >> "$ledger"
  ctr run -d --runtime io.containerd.cc.v2 --runtime-config-path "$PWD/build/configuration.toml" "$BUSYBOX_IMAGE" "$id" \
    sh -c 'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done' >/dev/null || { echo "$id: run failed"; return 1; }
  said=$(ctr task exec --exec-id e1 "$id" echo "$id") || { echo "$id: exec failed"; return 1; }
  [ "$said" = "$id" ] || { echo "$id: exec said '$said'"; return 1; }
  ctr task rm -f "$id" >/dev/null || { echo "$id: task rm failed"; return 1; }
  ctr container rm "$id" >/dev/null || { echo "$id: container rm failed"; return 1; }
}

start=$SECONDS ok=0
for i in $(seq 1 "$cycles"); do
  if cycle "seq-$i" >&2; then ok=$((ok + 1)); fi
  if [ $((i % 10)) -eq 0 ]; then echo "stress: ctr cycle $i/$cycles ($((SECONDS - start)) s)" >&2; fi
done
seq_line="| $cycles container cycles, one after another | $ok/$cycles | $((SECONDS - start)) s | |"
[ "$ok" -eq "$cycles" ] || failed=1

start=$SECONDS ok=0 jobs_=()
for i in $(seq 1 "$pods"); do
  cycle "par-$i" >&2 & jobs_+=($!)
done
for job in "${jobs_[@]}"; do
  if wait "$job"; then ok=$((ok + 1)); fi
done
par_line="| $pods container cycles at once | $ok/$pods | $((SECONDS - start)) s | |"
[ "$ok" -eq "$pods" ] || failed=1

start=$SECONDS
rss=$(rss_over_execs) || failed=1
read -r passed first last curve <<<"$rss"
rss_line="| 1 container, $execs \`ctr task exec\` | $passed/$execs | $((SECONDS - start)) s | shim VmRSS $first MiB after the first exec, $last MiB after the last; VmRSS by exec: $curve MiB |"

# The instance's own leak check, while containerd runs: stop.sh below would kill and delete what is left.
start=$SECONDS
if instance_left=$(bash hack/check-leftovers.sh --instance "$dir"); then leak="none left"; else leak=$(head -1 <<<"$instance_left"); failed=1; fi
printf '%s\n' "$instance_left" >&2
leak_line="| leak check before stop: the instance (tasks, containers, bundles, FIFOs, sockets, mounts, shims and their children) and run_dir | $leak | $((SECONDS - start)) s | |"
hack/containerd/stop.sh "$dir" >&2
trap - EXIT
{
  echo
  echo "### make stress, ctr (containerd 1.6, io.containerd.cc.v2)"
  echo
  echo "| Run | Passed | Wall time | Notes |"
  echo "|---|---|---|---|"
  echo "$seq_line"
  echo "$par_line"
  echo "$rss_line"
  echo "$leak_line"
} | tee -a "$report"
fi

# --- 2. CRI -------------------------------------------------------------------------------------------------------
if [[ " $parts " == *" cri "* ]]; then
timeout 900 dotnet publish integration/Cc.Bench/Cc.Bench.csproj -c Release --nologo -v quiet \
  -p:PublishAot=false -o "$out/cc-bench" >&2
echo >> "$report"
# The command stops and removes every pod it starts and its containerd (hack/containerd/stop.sh), also on SIGTERM.
if ! CC_TEST_LEDGER=$PWD/$ledger timeout $((600 + (cycles + pods) * 120 + execs * 10)) "$out/cc-bench/Cc.Bench" cri-stress \
    --cycles "$cycles" --pods "$pods" --execs "$execs" --out "$out/cri.md"; then
  failed=1
fi
cat "$out/cri.md" >> "$report" 2>/dev/null || true
fi

# --- 3. leftovers -------------------------------------------------------------------------------------------------
echo >> "$report"
if bash hack/check-leftovers.sh "$ledger" | tee -a "$report"; then :; else failed=1; fi
echo "report: $report"
exit "$failed"
