#!/usr/bin/env bash
# Shim benchmark part of `make bench`: `ctr run --rm <busybox> /bin/true` timed end to end through a
# private containerd with runc vs with our io.containerd.cc.v2, next to the bare VM floor
# (hack/bench/20-vm-floor.sh), and the resident memory (RSS/PSS) of one shim serving one running
# container: containerd-shim-runc-v2 vs containerd-shim-cc-v2 (plus the QEMU it started). "Ours from a template" is
# the same runtime with [factory] template = true (docs/templates.md): the template is made first by
# `containerd-shim-cc-v2 factory init` (not timed), so every timed run is a clone; host PSS per idle pod is measured
# with BENCH_IDLE_PODS (default 3) pods idle at once, cold and cloned (clones share the template's untouched pages).
# Prints a markdown table with ratios on stdout (progress on stderr). Whatever cannot run yet is
# printed as "n/a" with the reason in the notes below the table; nothing is estimated.
#   BENCH_N=5 (runs per runtime)  BENCH_CONTAINERD=1.6|1.7
#   BENCH_BASELINE_CONFIG=FILE: another configuration.toml for the same binaries (e.g. one pointing at another guest
#   image); ours is then timed against it in one run, cold and from a template, the runs alternating (baseline, ours),
#   and a second table gives both with ours ÷ baseline.
#   BENCH_BASELINE=DIR  adds rows "baseline": DIR/bin/containerd-shim-cc-v2 with DIR/configuration.toml (e.g. a copy of
#                       build/bin and build/guest from an earlier commit, its guest paths pointing into DIR), timed
#                       round by round with ours (ours, baseline, ours, ...), cold and from a template (each its own)
#   BENCH_MEMORY=0      skips the memory rows (shim/QEMU RSS, idle pods), e.g. for a quick before/after of the times
# The floor comes from build/bench/report.md when `make bench` ran 20-vm-floor.sh just before this
# part; otherwise this part runs 20-vm-floor.sh itself with BENCH_N=3.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
# shellcheck source=hack/bench/lib.sh
. hack/bench/lib.sh
n=${BENCH_N:-5}
version=${BENCH_CONTAINERD:-1.6}
shim=$repo/build/bin/containerd-shim-cc-v2
cc_config=$repo/build/configuration.toml
notes=()
idle_pods=${BENCH_IDLE_PODS:-3}
baseline=${BENCH_BASELINE:-}
memory=${BENCH_MEMORY:-1}
tpl_dir=
baseline_config=${BENCH_BASELINE_CONFIG:-}

log() { echo "30-shim: $*" >&2; }
cleanup() {
  bench_containerd_down
  [ -z "$tpl_dir" ] || { "$shim" factory destroy --config "$tpl_dir.toml" >&2; rm -f "$tpl_dir.toml"; }
  [ -z "$tpl_dir" ] || [ ! -f "$tpl_dir-base.toml" ] \
    || { "$baseline/bin/containerd-shim-cc-v2" factory destroy --config "$tpl_dir-base.toml" >&2; rm -f "$tpl_dir-base.toml"; }
  [ -z "$tpl_dir" ] || [ ! -f "$tpl_dir.baseline.toml" ] \
    || { "$shim" factory destroy --config "$tpl_dir.baseline.toml" >&2; rm -f "$tpl_dir.baseline.toml"; }
  [ -z "$tpl_dir" ] || rm -rf "$tpl_dir"
}
trap cleanup EXIT
now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
secs() { [ -n "$1" ] && awk -v m="$1" 'BEGIN { printf "%.2f s", m / 1000 }' || echo "n/a"; }
mb() { [ -n "$1" ] && [ "$1" != - ] && awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }' || echo "n/a"; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f×", a / b }' || echo "n/a"; }
ratio2() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }' || echo "n/a"; }

# --- the VM floor: "wall to marker" and "wall to QEMU exit" of the floor row, in ms ---
floor_boot= floor_exit= floor_src=
floor_row() { grep -m1 -F '(the floor) |' "$1" 2>/dev/null; }
parse_floor() {
  floor_boot=$(awk -F'|' '{ gsub(/[* ]|s$/, "", $3); sub(/\(.*/, "", $3); printf "%d", $3 * 1000 }' <<<"$1")
  floor_exit=$(awk -F'|' '{ gsub(/[ s]/, "", $6); printf "%d", $6 * 1000 }' <<<"$1")
}
if row=$(floor_row build/bench/report.md) && [ -n "$row" ]; then
  parse_floor "$row"; floor_src="build/bench/report.md"
else
  log "measuring the VM floor (hack/bench/20-vm-floor.sh, BENCH_N=3)"
  if out=$(BENCH_N=3 bash hack/bench/20-vm-floor.sh 2>&1) && row=$(floor_row <(echo "$out")) && [ -n "$row" ]; then
    parse_floor "$row"; floor_src="hack/bench/20-vm-floor.sh, 3 runs"
  else
    notes+=("VM floor n/a: hack/bench/20-vm-floor.sh did not produce its floor row: $(tail -n 1 <<<"$out")")
  fi
fi

# --- a private containerd with the busybox image ---
bench_containerd_up bench

# time_runs <label> <timeout s> <ctr run options...>: one warm-up, then n timed runs; prints the
# median in ms (empty if no run succeeded) and the failures as "fail=<k> <last error>" on stderr.
time_runs() {
  local label=$1 limit=$2; shift 2
  local times=() fails=0 err= i start out
  for i in $(seq 0 "$n"); do
    start=$(now_ms)
    if out=$(timeout "$limit" bash hack/containerd/ctr.sh "$dir" -n bench run --rm "$@" "$BUSYBOX_IMAGE" "b-$label-$i" /bin/true 2>&1); then
      [ "$i" -eq 0 ] || times+=($(($(now_ms) - start)))
    else
      fails=$((fails + 1)) err=$(tr '\n' ' ' <<<"$out" | cut -c1-200)
      # A first failure is enough to know the runtime does not work yet; do not wait n times.
      [ ${#times[@]} -eq 0 ] && break
    fi
  done
  [ "$fails" -eq 0 ] || echo "$fails failed run(s), last: $err" >"$dir/$label.err"
  printf '%s\n' "${times[@]}" | grep . | median
}

# time_pair_config <label> <timeout s> <baseline config> <ours config>: time_pair (below) for the same binaries with two
# configurations, the baseline first in each round; prints "<baseline median ms> <ours median ms>" ("-" for none).
time_pair_config() {
  pair_opts[$1-0]="--runtime io.containerd.cc.v2 --runtime-config-path $3"
  pair_opts[$1-1]="--runtime io.containerd.cc.v2 --runtime-config-path $4"
  time_pair "$1-0" "$1-1" "$2"
}

# time_pair <label a> <label b> <timeout s>: time_runs for two runtimes at once, round by round (a, b, a, b, ...; the
# first round of each is the warm-up), so that both see the same load; pair_opts[label] holds each one's ctr run
# options (no spaces in paths). Prints "median_a median_b" ("-" for none) and each run's ms on stderr.
declare -A pair_opts=()
time_pair() {
  local a=$1 b=$2 limit=$3 i l start out
  local -A times=() fails=() err=()
  for i in $(seq 0 "$n"); do
    for l in "$a" "$b"; do
      start=$(now_ms)
      # shellcheck disable=SC2086 # pair_opts holds several words
      if out=$(timeout "$limit" bash hack/containerd/ctr.sh "$dir" -n bench run --rm ${pair_opts[$l]} "$BUSYBOX_IMAGE" "b-$l-$i" /bin/true 2>&1); then
        [ "$i" -eq 0 ] || times[$l]+="$(($(now_ms) - start)) "
      else
        fails[$l]=$((${fails[$l]:-0} + 1)) err[$l]=$(tr '\n' ' ' <<<"$out" | cut -c1-200)
      fi
    done
  done
  for l in "$a" "$b"; do
    log "$l: runs ${times[$l]:-none} ms"
    [ "${fails[$l]:-0}" -eq 0 ] || echo "${fails[$l]} failed run(s), last: ${err[$l]}" >"$dir/$l.err"
  done
  local ma mb_
  ma=$(tr ' ' '\n' <<<"${times[$a]:-}" | grep . | median) mb_=$(tr ' ' '\n' <<<"${times[$b]:-}" | grep . | median)
  echo "${ma:--} ${mb_:--}"
}

# shim_memory <label> <timeout s> <ctr run options...>: starts a detached `sleep`, finds its shim (by
# the `-address` containerd passed it, or by cwd = the bundle) and its QEMU (by inherited env); prints
# "shim_rss shim_pss qemu_rss qemu_pss" in kB ("" for what was not found).
kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }
shim_memory() {
  local label=$1 limit=$2; shift 2
  local id=m-$label bundle pid shim_pid= qemu_pid=
  bundle=$dir/state/io.containerd.runtime.v2.task/bench/$id
  if ! out=$(timeout "$limit" bash hack/containerd/ctr.sh "$dir" -n bench run -d "$@" "$BUSYBOX_IMAGE" "$id" sleep 600 2>&1); then
    echo "could not start a container: $(tr '\n' ' ' <<<"$out" | cut -c1-200)" >"$dir/$label.memerr"
    echo "   "; return
  fi
  sleep 2 # let start-up allocations settle
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    case "$(readlink "$p/exe" 2>/dev/null)" in
      */containerd-shim-*)
        if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "-address $address " \
           || [ "$(readlink "$p/cwd" 2>/dev/null)" = "$bundle" ]; then shim_pid=$pid; fi ;;
      */qemu-system-*) # ours only: it inherited the TTRPC_ADDRESS containerd gave our shim
        if tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "TTRPC_ADDRESS=$address.ttrpc"; then qemu_pid=$pid; fi ;;
    esac
  done
  [ -n "$shim_pid" ] || echo "no shim process found for $id" >"$dir/$label.memerr"
  # A shim that gives QEMU its own environment: its QEMU is then found as its child.
  [ -n "$qemu_pid" ] || [ -z "$shim_pid" ] || qemu_pid=$(pgrep -P "$shim_pid" '^qemu-system' | head -n 1)
  echo "${shim_pid:+$(kb "$shim_pid" Rss)} ${shim_pid:+$(kb "$shim_pid" Pss)} ${qemu_pid:+$(kb "$qemu_pid" Rss)} ${qemu_pid:+$(kb "$qemu_pid" Pss)}"
  timeout 60 bash hack/containerd/ctr.sh "$dir" -n bench task kill -s SIGKILL "$id" >/dev/null 2>&1
  sleep 1
  timeout 60 bash hack/containerd/ctr.sh "$dir" -n bench task rm -f "$id" >/dev/null 2>&1
  timeout 60 bash hack/containerd/ctr.sh "$dir" -n bench container rm "$id" >/dev/null 2>&1
}

# idle_pss <label> <timeout s> <ctr run options...>: starts $idle_pods detached `sleep`s at once, then prints the host
# PSS per pod in kB: (every QEMU of ours + every shim of this containerd) / pods, so shared pages count once in all.
idle_pss() {
  local label=$1 limit=$2; shift 2
  local i ids=() total=0 p pss started=0
  for i in $(seq 1 "$idle_pods"); do ids+=("i-$label-$i"); done
  for i in "${ids[@]}"; do
    timeout "$limit" bash hack/containerd/ctr.sh "$dir" -n bench run -d "$@" "$BUSYBOX_IMAGE" "$i" sleep 600 >/dev/null 2>&1 &
  done
  wait
  for i in "${ids[@]}"; do
    bash hack/containerd/ctr.sh "$dir" -n bench task ls 2>/dev/null | grep -q "^$i .*RUNNING" && started=$((started + 1))
  done
  sleep 2
  for p in /proc/[0-9]*; do
    case "$(readlink "$p/exe" 2>/dev/null)" in
      */containerd-shim-cc-v2) tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "-address $address " || continue ;;
      */qemu-system-*) tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "TTRPC_ADDRESS=$address.ttrpc" || continue ;;
      *) continue ;;
    esac
    pss=$(kb "${p#/proc/}" Pss); total=$((total + ${pss:-0}))
  done
  for i in "${ids[@]}"; do
    timeout 60 bash hack/containerd/ctr.sh "$dir" -n bench task kill -s SIGKILL "$i" >/dev/null 2>&1
  done
  sleep 1
  for i in "${ids[@]}"; do
    timeout 60 bash hack/containerd/ctr.sh "$dir" -n bench task rm -f "$i" >/dev/null 2>&1
    timeout 60 bash hack/containerd/ctr.sh "$dir" -n bench container rm "$i" >/dev/null 2>&1
  done
  if [ "$started" -eq "$idle_pods" ]; then echo $((total / idle_pods)); else
    echo "only $started of $idle_pods idle pods started" >"$dir/$label-idle.memerr"; echo; fi
}

cc_opts=(--runtime io.containerd.cc.v2)
[ -f "$cc_config" ] && cc_opts+=(--runtime-config-path "$cc_config")

if [ -n "$baseline" ]; then
  [ -x "$baseline/bin/containerd-shim-cc-v2" ] && [ -f "$baseline/configuration.toml" ] \
    || { log "BENCH_BASELINE=$baseline lacks bin/containerd-shim-cc-v2 or configuration.toml"; exit 1; }
  # containerd 1.6+ takes an absolute shim path as --runtime.
  pair_opts[cc]="${cc_opts[*]}"
  pair_opts[base]="--runtime $baseline/bin/containerd-shim-cc-v2 --runtime-config-path $baseline/configuration.toml"
fi

log "runc: $n runs of ctr run --rm /bin/true"
runc_ms=$(time_runs runc 60 --runtime io.containerd.runc.v2)
runc_rss= runc_pss=
[ "$memory" = 0 ] || read -r runc_rss runc_pss _ _ <<<"$(shim_memory runc 60 --runtime io.containerd.runc.v2)"
cc_ms= cc_rss= cc_pss= qemu_rss= qemu_pss= cold_idle= tpl_ms= tpl_rss= tpl_pss= tqemu_rss= tqemu_pss= tpl_idle=
base_ms= btpl_ms=
if [ -x "$shim" ]; then
  if [ -n "$baseline" ]; then
    log "io.containerd.cc.v2 and the baseline, round by round: $n runs each of ctr run --rm /bin/true"
    read -r cc_ms base_ms <<<"$(time_pair cc base 300)"
    [ "$cc_ms" != - ] || cc_ms=
    [ "$base_ms" != - ] || base_ms=
  else
    log "io.containerd.cc.v2: $n runs of ctr run --rm /bin/true"
    cc_ms=$(time_runs cc 300 "${cc_opts[@]}")
  fi
  if [ "$memory" != 0 ]; then
    read -r cc_rss cc_pss qemu_rss qemu_pss <<<"$(shim_memory cc 300 "${cc_opts[@]}")"
    log "io.containerd.cc.v2: $idle_pods idle pods at once, cold"
    cold_idle=$(idle_pss cold 300 "${cc_opts[@]}")
  fi
  # Templates: the run_dir's sibling in tmpfs (the template's RAM is a file there), removed by cleanup.
  run_dir=$(bench_run_dir "$cc_config")
  tpl_dir=$run_dir-bench-templates-$$
  mkdir -p "$tpl_dir"
  { [ -f "$cc_config" ] && cat "$cc_config"; printf '\n[factory]\ntemplate = true\ndirectory = "%s"\n' "$tpl_dir/t"; } >"$tpl_dir.toml"
  tpl_opts=(--runtime io.containerd.cc.v2 --runtime-config-path "$tpl_dir.toml")
  log "factory init (a cold boot and a save; not timed)"
  if [ -n "$baseline" ]; then
    { cat "$baseline/configuration.toml"; printf '\n[factory]\ntemplate = true\ndirectory = "%s"\n' "$tpl_dir/base"; } >"$tpl_dir-base.toml"
    pair_opts[tpl]="${tpl_opts[*]}"
    pair_opts[btpl]="--runtime $baseline/bin/containerd-shim-cc-v2 --runtime-config-path $tpl_dir-base.toml"
    log "baseline factory init (not timed)"
    "$baseline/bin/containerd-shim-cc-v2" factory init --config "$tpl_dir-base.toml" >&2 \
      || notes+=("baseline from a template n/a: its factory init failed")
  fi
  if out=$("$shim" factory init --config "$tpl_dir.toml" 2>&1); then
    if [ -n "$baseline" ]; then
      log "io.containerd.cc.v2 and the baseline from templates, round by round: $n runs each of ctr run --rm /bin/true"
      read -r tpl_ms btpl_ms <<<"$(time_pair tpl btpl 300)"
      [ "$tpl_ms" != - ] || tpl_ms=
      [ "$btpl_ms" != - ] || btpl_ms=
    else
      log "io.containerd.cc.v2 from a template: $n runs of ctr run --rm /bin/true"
      tpl_ms=$(time_runs tpl 300 "${tpl_opts[@]}")
    fi
    if [ "$memory" != 0 ]; then
      read -r tpl_rss tpl_pss tqemu_rss tqemu_pss <<<"$(shim_memory tpl 300 "${tpl_opts[@]}")"
      log "io.containerd.cc.v2: $idle_pods idle pods at once, cloned"
      tpl_idle=$(idle_pss tpl 300 "${tpl_opts[@]}")
    fi
  else
    notes+=("ours from a template n/a: factory init failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')")
  fi
else
  notes+=("io.containerd.cc.v2 n/a: $shim is missing (make build)")
fi
pair_cold= pair_tpl= pair_qemu= pair_idle_cold= pair_idle_tpl=
if [ -n "$baseline_config" ] && [ -x "$shim" ] && [ -f "$baseline_config" ]; then
  log "baseline $baseline_config against ours: $n rounds of ctr run --rm /bin/true, cold, alternating"
  pair_cold=$(time_pair_config cold 300 "$baseline_config" "$cc_config")
  read -r _ _ bqemu_rss bqemu_pss <<<"$(shim_memory base 300 --runtime io.containerd.cc.v2 --runtime-config-path "$baseline_config")"
  pair_qemu="$bqemu_rss $bqemu_pss $qemu_rss $qemu_pss"
  pair_idle_cold="$(idle_pss bcold 300 --runtime io.containerd.cc.v2 --runtime-config-path "$baseline_config") $cold_idle"
  if [ -n "$tpl_dir" ] && [ -n "$tpl_ms" ]; then
    { cat "$baseline_config"; printf '\n[factory]\ntemplate = true\ndirectory = "%s"\n' "$tpl_dir/b"; } >"$tpl_dir.baseline.toml"
    log "factory init for the baseline (not timed)"
    if out=$("$shim" factory init --config "$tpl_dir.baseline.toml" 2>&1); then
      log "baseline against ours from a template: $n rounds, alternating"
      pair_tpl=$(time_pair_config tpl 300 "$tpl_dir.baseline.toml" "$tpl_dir.toml")
      pair_idle_tpl="$(idle_pss btpl 300 --runtime io.containerd.cc.v2 --runtime-config-path "$tpl_dir.baseline.toml") $tpl_idle"
    else
      notes+=("baseline from a template n/a: factory init failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')")
    fi
  fi
fi
for f in "$dir"/*.err "$dir"/*.memerr; do
  [ -e "$f" ] && notes+=("$(basename "$f" | sed 's/\.memerr$/ (memory)/; s/\.err$/ (timing)/'): $(cat "$f")")
done

echo
echo "### Shim: \`ctr run --rm busybox /bin/true\` and shim memory — containerd $version, $n runs (median), $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
echo
echo "| Measure | runc (containerd-shim-runc-v2) | ours (containerd-shim-cc-v2) | ours / runc | VM floor | ours / floor |"
echo "|---|---|---|---|---|---|"
echo "| ctr run --rm /bin/true, wall | $(secs "$runc_ms") | $(secs "$cc_ms") | $(ratio "$cc_ms" "$runc_ms") | $(secs "$floor_exit") boot + power-off ($(secs "$floor_boot") to init) | $(ratio "$cc_ms" "$floor_exit") |"
echo "| ctr run --rm /bin/true, ours from a template | $(secs "$runc_ms") | $(secs "$tpl_ms") | $(ratio "$tpl_ms" "$runc_ms") | $(secs "$floor_exit") | $(ratio "$tpl_ms" "$floor_exit") |"
if [ -n "$baseline" ]; then
  echo "| ctr run --rm /bin/true, baseline ($baseline), round by round with ours | $(secs "$runc_ms") | $(secs "$base_ms") | $(ratio "$base_ms" "$runc_ms") | – | ours / baseline $(ratio2 "$cc_ms" "$base_ms") |"
  echo "| ctr run --rm /bin/true, baseline from a template | $(secs "$runc_ms") | $(secs "$btpl_ms") | $(ratio "$btpl_ms" "$runc_ms") | – | ours / baseline $(ratio2 "$tpl_ms" "$btpl_ms") |"
fi
echo "| shim RSS, one container running | $(mb "$runc_rss") | $(mb "$cc_rss") | $(ratio "$cc_rss" "$runc_rss") | – | – |"
echo "| shim PSS, one container running | $(mb "$runc_pss") | $(mb "$cc_pss") | $(ratio "$cc_pss" "$runc_pss") | – | – |"
echo "| QEMU RSS / PSS (the VM) | – | $(mb "$qemu_rss") / $(mb "$qemu_pss") | – | – | – |"
echo "| QEMU RSS / PSS, a clone alone | – | $(mb "$tqemu_rss") / $(mb "$tqemu_pss") | – | – | – |"
echo "| host PSS per idle pod (QEMU + shim), $idle_pods at once: cold / cloned | – | $(mb "$cold_idle") / $(mb "$tpl_idle") | cloned / cold $(ratio "$tpl_idle" "$cold_idle") | – | – |"
echo
if [ -n "$baseline_config" ]; then
  pr() { [ -n "$1" ] && [ "$1" != - ] && [ -n "$2" ] && [ "$2" != - ] && awk -v a="$2" -v b="$1" 'BEGIN { printf "%.2f×", a / b }' || echo "n/a"; }
  pms() { [ "$1" != - ] && secs "$1" || echo "n/a"; }
  read -r b0 o0 <<<"${pair_cold:-- -}"; read -r b1 o1 <<<"${pair_tpl:-- -}"
  read -r bqr bqp oqr oqp <<<"${pair_qemu:-- - - -}"; read -r bic oic <<<"${pair_idle_cold:-- -}"; read -r bit oit <<<"${pair_idle_tpl:-- -}"
  echo
  echo "Baseline: \`$baseline_config\`; ours: \`$cc_config\` (the same binaries; runs alternating, baseline first):"
  echo
  echo "| Measure | baseline | ours | ours ÷ baseline |"
  echo "|---|---|---|---|"
  echo "| ctr run --rm /bin/true, cold (median of $n) | $(pms "$b0") | $(pms "$o0") | $(pr "$b0" "$o0") |"
  echo "| ctr run --rm /bin/true, from a template (median of $n) | $(pms "$b1") | $(pms "$o1") | $(pr "$b1" "$o1") |"
  echo "| QEMU RSS / PSS, one cold VM alone | $(mb "$bqr") / $(mb "$bqp") | $(mb "$oqr") / $(mb "$oqp") | $(pr "$bqp" "$oqp") (PSS) |"
  echo "| host PSS per idle pod, $idle_pods at once, cold | $(mb "$bic") | $(mb "$oic") | $(pr "$bic" "$oic") |"
  echo "| host PSS per idle pod, $idle_pods at once, cloned | $(mb "$bit") | $(mb "$oit") | $(pr "$bit" "$oit") |"
  echo
fi
[ -n "$floor_src" ] && echo "VM floor from $floor_src (q35, qboot, PVH vmlinux, floor.cpio: boot to init, then power-off)."
for note in "${notes[@]}"; do echo "- $note"; done
exit 0
