#!/usr/bin/env bash
# Density part of `make bench` (issue 10): host memory per idle pod and how many idle pods fit in 8 GiB, cold and
# cloned from a template (docs/templates.md). Through a private containerd it starts BENCH_COLD cold pods, then
# BENCH_CLONES cloned pods (each `ctr run -d <busybox> sleep`, one after another so that a slow start at load never
# fails a boot timeout), all of a kind idle at once, waits BENCH_SETTLE_S, and reads /proc/<pid>/smaps_rollup of every
# process of those pods: each shim of this containerd and all of its descendants (QEMU, any helper). At density the
# shared pages divide, so PSS summed over the pods and divided by their number is the honest per-pod cost; the table
# also splits it into private pages (the pod's own) and the pod's share of shared pages (the template's RAM file,
# libraries), and QEMU from the shim.
# "Idle pods in 8 GiB" = 8 GiB ÷ PSS per pod (the issue's formula). A cloned pod's template memory file also sits in
# tmpfs once per node: the note below the table gives its size and the count with that file taken off the 8 GiB first
# (conservative: the pages the clones map are then counted twice).
#   BENCH_CLONES=10  BENCH_COLD=3  BENCH_SETTLE_S=10  BENCH_CONTAINERD=1.6|1.7
#   BENCH_CLONE_TB_SIZES="<n> ..." (MiB; one round of clones per size with [factory] clone_tcg_tb_size_mib = n;
#   unset: the configured default only)
#   BENCH_COLD_TB_SIZES="<n> ..." (MiB; one round of cold pods per size with [hypervisor] tcg_tb_size_mib = n; unset:
#   the configured default only)
#   BENCH_BASELINE_CONFIG=FILE (another configuration.toml for the same binaries, e.g. one pointing at another guest
#   image: each round of pods runs first with FILE, labelled "baseline", then with build/configuration.toml, so that
#   both see the same load)
# Prints a markdown table with ratios to the issue's goals on stdout (progress on stderr); "n/a" with the reason below
# the table for what could not run.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
# shellcheck source=hack/bench/lib.sh
. hack/bench/lib.sh
version=${BENCH_CONTAINERD:-1.6}
clones=${BENCH_CLONES:-10}
colds=${BENCH_COLD:-3}
settle=${BENCH_SETTLE_S:-10}
tb_sizes=${BENCH_CLONE_TB_SIZES:-}
cold_tb_sizes=${BENCH_COLD_TB_SIZES:-}
cold_config_dir=
baseline_config=${BENCH_BASELINE_CONFIG:-}
shim=$repo/build/bin/containerd-shim-cc-v2
cc_config=$repo/build/configuration.toml
goal_clone_mib=40 goal_cold_mib=120 goal_pods=150 budget_mib=8192
notes=()
tpl_dir=

log() { echo "31-density: $*" >&2; }
cleanup() {
  [ -z "$cold_config_dir" ] || rm -rf "$cold_config_dir"
  bench_containerd_down
  if [ -n "$tpl_dir" ]; then
    for t in "$tpl_dir".toml "$tpl_dir".baseline.toml; do [ ! -f "$t" ] || "$shim" factory destroy --config "$t" >&2; done
    rm -f "$tpl_dir".toml "$tpl_dir".*.toml; rm -rf "$tpl_dir"
  fi
}
trap cleanup EXIT
[ -x "$shim" ] || { echo "31-density: $shim is missing (make build)"; exit 0; }
[ -z "$baseline_config" ] || [ -f "$baseline_config" ] || { log "BENCH_BASELINE_CONFIG=$baseline_config is missing"; exit 1; }
# guest_of <config>: the guest kernel release a configuration boots (kernel-version next to its kernel), for the labels.
guest_of() {
  local k
  k=$(sed -nE 's/^[[:space:]]*kernel[[:space:]]*=[[:space:]]*"([^"]+)".*/\1/p' "$1" | head -1)
  cat "$(dirname "${k:-/nonexistent}")/kernel-version" 2>/dev/null || echo "?"
}

bench_containerd_up density

# descendants <pid>: the pid and all of its descendants, one a line.
descendants() {
  local p=$1 c
  echo "$p"
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do descendants "$c"; done
}

# pod_processes: every shim of this containerd and its descendants, as "<pid> <role>" (role: qemu, shim, helper).
pod_processes() {
  local p pid d exe
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$shim" ] || continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "-address $address " || continue
    for d in $(descendants "$pid"); do
      exe=$(readlink "/proc/$d/exe" 2>/dev/null) || continue
      case "$exe" in
        */qemu-system-*) echo "$d qemu" ;;
        "$shim") echo "$d shim" ;;
        *) echo "$d helper" ;;
      esac
    done
  done | sort -u -k1,1n
}

# measure <pods>: sums smaps_rollup over pod_processes; prints, in kB per pod:
# "pss private qemu_pss shim_pss helper_pss helper_count rss"
measure() {
  local pods=$1 pid role
  while read -r pid role; do
    [ -n "$pid" ] || continue
    awk -v role="$role" '
      $1 == "Rss:" { rss = $2 } $1 == "Pss:" { pss = $2 }
      $1 == "Private_Clean:" || $1 == "Private_Dirty:" { priv += $2 }
      END { print role, pss + 0, priv + 0, rss + 0 }' "/proc/$pid/smaps_rollup" 2>/dev/null
  done < <(pod_processes) | awk -v n="$pods" '
    { pss += $2; priv += $3; rss += $4; by[$1] += $2; if ($1 == "helper") helpers++ }
    END { printf "%d %d %d %d %d %d %d\n", pss / n, priv / n, by["qemu"] / n, by["shim"] / n, by["helper"] / n, helpers + 0, rss / n }'
}

# idle_round <label> <config> <count> <timeout s>: starts <count> pods one after another, waits BENCH_SETTLE_S, prints
# "started <measure>" and removes the pods. Start failures are noted.
idle_round() {
  local label=$1 config=$2 count=$3 limit=$4 i id started=0 err= result
  local ids=()
  for i in $(seq 1 "$count"); do
    id=d-$label-$i
    log "$label: pod $i of $count"
    if out=$(timeout "$limit" bash hack/containerd/ctr.sh "$dir" -n density run -d --runtime io.containerd.cc.v2 \
        --runtime-config-path "$config" "$BUSYBOX_IMAGE" "$id" sleep 3600 2>&1); then
      started=$((started + 1))
    else
      err=$(tr '\n' ' ' <<<"$out" | cut -c1-200)
    fi
    ids+=("$id")
  done
  sleep "$settle"
  result=$(measure "$started")
  for id in "${ids[@]}"; do ctr task kill -s SIGKILL "$id" >/dev/null 2>&1; done
  for id in "${ids[@]}"; do
    timeout 120 bash hack/containerd/ctr.sh "$dir" -n density task rm -f "$id" >/dev/null 2>&1
    timeout 60 bash hack/containerd/ctr.sh "$dir" -n density container rm "$id" >/dev/null 2>&1
  done
  # A note file, since this runs in a command substitution (a subshell).
  [ "$started" -eq "$count" ] || echo "$label: $started of $count pods started; last error: $err" >"$dir/$label.note"
  echo "$started $result"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
row() { # row <label> <goal MiB> <started> <pss> <private> <qemu> <shim> <helper> <helpers> <rss>
  local label=$1 goal=$2 started=$3 pss=$4 priv=$5 qemu=$6 shimk=$7 helper=$8 helpers=$9
  if [ "$started" -eq 0 ] || [ -z "$pss" ] || [ "$pss" -eq 0 ]; then
    echo "| $label | 0 | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |"; return
  fi
  local fit
  fit=$(awk -v b="$budget_mib" -v k="$pss" 'BEGIN { printf "%d", b * 1024 / k }')
  echo "| $label | $started | $(mib "$pss") MiB | $(mib "$priv") / $(mib $((pss - priv))) MiB | $(mib "$qemu") MiB | $(mib "$shimk") MiB | $(mib "$helper") MiB ($helpers) | $(awk -v k="$pss" -v g="$goal" 'BEGIN { printf "%.2f×", k / 1024 / g }') | $fit | $(awk -v f="$fit" -v g="$goal_pods" 'BEGIN { printf "%.2f×", f / g }') |"
}

rows=()
load_start=$(cut -d' ' -f1 /proc/loadavg)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo "?")

# The configurations each round runs, baseline first: "<name> <file> <label suffix>".
configs=()
[ -z "$baseline_config" ] || configs+=("baseline $baseline_config , baseline (guest $(guest_of "$baseline_config"))")
configs+=("ours $cc_config ${baseline_config:+, guest $(guest_of "$cc_config")}")

if [ "$colds" -gt 0 ]; then
  for tb in ${cold_tb_sizes:-default}; do
    for c in "${configs[@]}"; do
      read -r cname base suffix <<<"$c"
      config=$base label="cold$suffix"
      if [ "$tb" != default ]; then
        # The key goes right under the [hypervisor] header, so it lands in that table wherever the file puts it.
        cold_config_dir=${cold_config_dir:-$(mktemp -d)}
        config=$cold_config_dir/cold.$cname.$tb.toml label="cold, tb-size $tb MiB$suffix"
        sed "s/^\[hypervisor\]$/[hypervisor]\ntcg_tb_size_mib = $tb/" "$base" >"$config"
      fi
      log "$colds cold pods ($label), one after another"
      read -r started pss priv qemu shimk helper helpers _ <<<"$(idle_round "cold-$cname-$tb" "$config" "$colds" 300)"
      rows+=("$(row "$label" "$goal_cold_mib" "$started" "$pss" "$priv" "$qemu" "$shimk" "$helper" "$helpers")")
    done
  done
fi

if [ "$clones" -gt 0 ]; then
  run_dir=$(bench_run_dir "$cc_config")
  tpl_dir=$run_dir-density-templates-$$
  mkdir -p "$tpl_dir"
  # One template directory per configuration (destroy removes every template of a directory): $tpl_dir.toml and
  # $tpl_dir/t for ours, $tpl_dir.baseline.toml and $tpl_dir/b for the baseline.
  declare -A tpl_toml tpl_kb
  for c in "${configs[@]}"; do
    read -r cname base suffix <<<"$c"
    t=$tpl_dir.toml sub=t
    [ "$cname" = ours ] || t=$tpl_dir.$cname.toml sub=b
    { cat "$base"; printf '\n[factory]\ntemplate = true\ndirectory = "%s"\n' "$tpl_dir/$sub"; } >"$t"
    log "factory init for $cname (a cold boot and a save; not measured)"
    if out=$("$shim" factory init --config "$t" 2>&1); then
      key=$("$shim" factory key --config "$t")
      tpl_toml[$cname]=$t tpl_kb[$cname]=$(du -k "$tpl_dir/$sub/$key/memory" 2>/dev/null | cut -f1)
    else
      notes+=("cloned$suffix n/a: factory init failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')")
    fi
  done
  for tb in ${tb_sizes:-default}; do
    for c in "${configs[@]}"; do
      read -r cname base suffix <<<"$c"
      [ -n "${tpl_toml[$cname]:-}" ] || continue
      config=${tpl_toml[$cname]} label="cloned$suffix" tpl_file_kb=${tpl_kb[$cname]}
      if [ "$tb" != default ]; then
        config=${config%.toml}.$tb.toml label="cloned, tb-size $tb MiB$suffix"
        sed "s/^template = true$/template = true\nclone_tcg_tb_size_mib = $tb/" "${tpl_toml[$cname]}" >"$config"
      fi
      log "$clones clones ($label), one after another"
      read -r started pss priv qemu shimk helper helpers _ <<<"$(idle_round "clone-$cname-$tb" "$config" "$clones" 300)"
      rows+=("$(row "$label" "$goal_clone_mib" "$started" "$pss" "$priv" "$qemu" "$shimk" "$helper" "$helpers")")
      if [ "$started" -gt 0 ] && [ -n "$tpl_file_kb" ] && [ "${pss:-0}" -gt 0 ]; then
        notes+=("$label: the template's memory file holds $(mib "$tpl_file_kb") MiB of tmpfs once per node; with it taken off the 8 GiB first, $(awk -v b="$budget_mib" -v t="$tpl_file_kb" -v k="$pss" 'BEGIN { printf "%d", (b * 1024 - t) / k }') idle pods fit (conservative: the pages the clones map count twice).")
      fi
    done
  done
fi

for f in "$dir"/*.note; do [ -e "$f" ] && notes+=("$(cat "$f")"); done
echo
echo "### Density: host memory per idle pod (QEMU + shim + helpers), $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores, $(uname -r), containerd $version, commit $commit, load $load_start → $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| Pods | idle at once | PSS per pod | of it private / shared share | QEMU | shim | helpers (processes) | PSS ÷ goal (40 MiB cloned, 120 MiB cold) | idle pods in 8 GiB | ÷ goal (150) |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do echo "$r"; done
echo
echo "Pods started one after another, measured $settle s after the last; PSS from /proc/<pid>/smaps_rollup of every shim of the bench's containerd and all of its descendants, summed and divided by the pods."
for note in "${notes[@]}"; do echo "- $note"; done
exit 0
