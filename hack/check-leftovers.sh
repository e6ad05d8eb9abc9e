#!/usr/bin/env bash
# The suite's last step (hack/run-tests.sh): fails if any test left anything of our runtime behind, whichever test it
# was and whether or not that test checked for itself.
#   hack/check-leftovers.sh [LEDGER]
# Checked:
#   1. run_dir (build/configuration.toml's runtime.run_dir, which every test runs the shim with): nothing below
#      <run_dir>/<namespace>/ (a sandbox's run directory is removed when its pod ends); empty namespace directories are
#      fine, the shim never removes those.
#   2. mounts at or below run_dir (/proc/self/mountinfo).
#   3. QEMU processes whose command line names run_dir (every VM's pidfile and sockets live there).
#   4. with LEDGER (one "<containerd address>/<namespace>/<id>" per line, appended by the integration harness for every
#      task id it made): the shim socket /run/containerd/s/<sha256 of that line>, and any process still running with
#      `-address <that containerd address>` (a shim daemon of an instance that is gone).
# Prints one line per leftover and exits 1 if there is any; prints "leftovers: none" and exits 0 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
ledger=${1:-}
config=build/configuration.toml
run_dir=$(sed -nE 's/^[[:space:]]*run_dir[[:space:]]*=[[:space:]]*"([^"]+)".*/\1/p' "$config" 2>/dev/null | head -1)
run_dir=${run_dir:-/run/cc}
left=()

if [ -d "$run_dir" ]; then
  while IFS= read -r entry; do
    left+=("run directory left: $entry [$(ls -A "$entry" 2>/dev/null | tr '\n' ' ')]")
  done < <(find "$run_dir" -mindepth 2 -maxdepth 2 2>/dev/null | sort)
fi

while read -r _ _ _ _ mount_point _; do
  case "$mount_point" in
    "$run_dir"|"$run_dir"/*) left+=("mount left: $mount_point") ;;
  esac
done < /proc/self/mountinfo

for proc in /proc/[0-9]*; do
  comm=$(cat "$proc/comm" 2>/dev/null) || continue
  case "$comm" in qemu-system*) ;; *) continue ;; esac
  args=$( { tr '\0' ' ' < "$proc/cmdline"; } 2>/dev/null) || continue
  case "$args" in *"$run_dir/"*) left+=("QEMU left: ${proc#/proc/} $args") ;; esac
done

if [ -n "$ledger" ] && [ -s "$ledger" ]; then
  mapfile -t addresses < <(sed -E 's|^(.*)/[^/]+/[^/]+$|\1|' "$ledger" | sort -u)
  while IFS= read -r key; do
    socket=/run/containerd/s/$(printf '%s' "$key" | sha256sum | cut -c1-64)
    [ -e "$socket" ] && left+=("shim socket left: $socket ($key)")
  done < <(sort -u "$ledger")
  for proc in /proc/[0-9]*; do
    args=$( { tr '\0' ' ' < "$proc/cmdline"; } 2>/dev/null) || continue
    for address in "${addresses[@]}"; do
      case "$args" in *"-address $address "*) left+=("shim process left: ${proc#/proc/} $args") ;; esac
    done
  done
fi

if [ ${#left[@]} -eq 0 ]; then
  echo "leftovers: none (run_dir $run_dir${ledger:+, $(sort -u "$ledger" 2>/dev/null | wc -l) task ids})"
  exit 0
fi
echo "leftovers: ${#left[@]} (run_dir $run_dir)"
printf '  %s\n' "${left[@]}"
exit 1
