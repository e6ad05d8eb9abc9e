#!/usr/bin/env bash
# make stress: load on the whole runtime, then the suite's leak check (docs/reliability.md, "Stress"). Not part of
# `make test`. Needs `make build guest` (and the test images: hack/images/build.sh, run here).
#   1. ctr (containerd 1.6, hack/containerd/start.sh): STRESS_CYCLES (100) containers one after another, each
#      `ctr run -d`, one `ctr task exec`, `ctr task rm -f`, `ctr container rm`; then STRESS_PODS (8) of those cycles at
#      once.
#   2. CRI (containerd 1.7 --cri, `Cc.Bench cri-stress`): the same counts of whole pod cycles (RunPodSandbox …
#      RemovePodSandbox, one ExecSync each), then one long-lived pod serving STRESS_EXECS (200) ExecSyncs with the
#      shim's VmRSS after the first and after the last.
#   3. hack/check-leftovers.sh with the ledger of every task id made here: nothing may be left (run directories,
#      mounts, QEMUs, shim sockets, shim processes).
# Tables go to build/stress/report.md. Fewer cycles for a quick run: STRESS_CYCLES=10 STRESS_PODS=4 make stress.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
cycles=${STRESS_CYCLES:-100}
pods=${STRESS_PODS:-8}
execs=${STRESS_EXECS:-200}
out=build/stress
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
echo "# make stress — $(date -u +%Y-%m-%dT%H:%MZ) — $(nproc) cores, cycles $cycles, pods $pods, execs $execs" > "$report"

# --- 1. ctr -------------------------------------------------------------------------------------------------------
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
seq_line="| $cycles container cycles, one after another | $ok/$cycles | $((SECONDS - start)) s |"
[ "$ok" -eq "$cycles" ] || failed=1

start=$SECONDS ok=0 jobs_=()
for i in $(seq 1 "$pods"); do
  cycle "par-$i" >&2 & jobs_+=($!)
done
for job in "${jobs_[@]}"; do
  if wait "$job"; then ok=$((ok + 1)); fi
done
par_line="| $pods container cycles at once | $ok/$pods | $((SECONDS - start)) s |"
[ "$ok" -eq "$pods" ] || failed=1
hack/containerd/stop.sh "$dir" >&2
trap - EXIT
{
  echo
  echo "### make stress, ctr (containerd 1.6, io.containerd.cc.v2)"
  echo
  echo "| Run | Passed | Wall time |"
  echo "|---|---|---|"
  echo "$seq_line"
  echo "$par_line"
} | tee -a "$report"

# --- 2. CRI -------------------------------------------------------------------------------------------------------
timeout 900 dotnet publish integration/Cc.Bench/Cc.Bench.csproj -c Release --nologo -v quiet \
  -p:PublishAot=false -o "$out/cc-bench" >&2
echo >> "$report"
# The command stops and removes every pod it starts and its containerd (hack/containerd/stop.sh), also on SIGTERM.
if ! CC_TEST_LEDGER=$PWD/$ledger timeout $((600 + (cycles + pods) * 120 + execs * 10)) "$out/cc-bench/Cc.Bench" cri-stress \
    --cycles "$cycles" --pods "$pods" --execs "$execs" --out "$out/cri.md"; then
  failed=1
fi
cat "$out/cri.md" >> "$report" 2>/dev/null || true

# --- 3. leftovers -------------------------------------------------------------------------------------------------
echo >> "$report"
if bash hack/check-leftovers.sh "$ledger" | tee -a "$report"; then :; else failed=1; fi
echo "report: $report"
exit "$failed"
