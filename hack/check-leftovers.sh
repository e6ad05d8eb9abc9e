#!/usr/bin/env bash
# The suite's last step (hack/run-tests.sh): fails if any test left anything of our runtime behind, whichever test it
# was and whether or not that test checked for itself.
#   hack/check-leftovers.sh [LEDGER]
#   hack/check-leftovers.sh --instance DIR [LEDGER]
# Checked:
#   1. run_dir (build/configuration.toml's runtime.run_dir, which every test runs the shim with): nothing below
#      <run_dir>/<namespace>/ (a sandbox's run directory is removed when its pod ends); empty namespace directories are
#      fine, the shim never removes those.
#   2. mounts at or below run_dir (/proc/self/mountinfo).
#   3. processes whose command line names run_dir (QEMU: every VM's pidfile and sockets live there; virtiofsd).
#   4. with LEDGER (one "<containerd address>/<namespace>/<id>" per line, appended by the integration harness for every
#      task id it made): the shim socket /run/containerd/s/<sha256 of that line>, any process still running with
#      `-address <that containerd address>` (a shim daemon of an instance that is gone), and any process that
#      inherited that containerd's TTRPC_ADDRESS (what a shim started and left behind).
#   5. with --instance DIR (a private containerd of hack/containerd/start.sh, checked while it still runs, before
#      stop.sh, which kills and deletes whatever is left and so would hide it): every task and container it still
#      knows, bundles under its state directory, FIFOs under DIR (ctr's stdio, the CRI's), sockets under DIR but
#      containerd's own, shim daemons of its address and their descendants, mounts under DIR.
# Prints one line per leftover and exits 1 if there is any; prints "leftovers: none" and exits 0 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
instance=
if [ "${1:-}" = --instance ]; then instance=${2:?--instance needs a directory}; shift 2; fi
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
  [ "${proc#/proc/}" = $$ ] && continue
  args=$( { tr '\0' ' ' < "$proc/cmdline"; } 2>/dev/null) || continue
  case "$args" in *"$run_dir/"*) ;; *) continue ;; esac
  comm=$(cat "$proc/comm" 2>/dev/null) || continue
  case "$comm" in qemu-system*) left+=("QEMU left: ${proc#/proc/} $args") ;; *) left+=("process left: ${proc#/proc/} $args") ;; esac
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
      case "$args" in *" -address $address "*) left+=("shim process left: ${proc#/proc/} $args") ;; esac
    done
  done
  # Children of a shim carry the TTRPC_ADDRESS containerd gave it (QEMU, the publish binary), orphaned or not.
  for address in "${addresses[@]}"; do
    for file in $(grep -lzxF "TTRPC_ADDRESS=$address.ttrpc" /proc/[0-9]*/environ 2>/dev/null); do
      pid=${file#/proc/} pid=${pid%/environ}
      [ "$pid" = $$ ] && continue
      case " ${left[*]:-} " in *"left: $pid "*) continue ;; esac
      left+=("process of a shim left: $pid $( { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null)")
    done
  done
fi

if [ -n "$instance" ]; then
  . hack/containerd/lib.sh
  if ! cc_load "$instance"; then
    left+=("instance $instance: no env file")
  else
    # What containerd still knows: every namespace's tasks and containers.
    for ns in $(timeout 20 "$CTR" --address "$CONTAINERD_ADDRESS" namespaces ls -q 2>/dev/null); do
      for id in $(timeout 20 "$CTR" --address "$CONTAINERD_ADDRESS" -n "$ns" tasks ls -q 2>/dev/null); do
        left+=("task left in containerd: $ns/$id")
      done
      for id in $(timeout 20 "$CTR" --address "$CONTAINERD_ADDRESS" -n "$ns" containers ls -q 2>/dev/null); do
        left+=("container left in containerd: $ns/$id")
      done
    done
    for bundle in "$instance"/state/io.containerd.runtime.v2.task/*/*; do
      [ -e "$bundle" ] && left+=("bundle left: $bundle [$(ls -A "$bundle" 2>/dev/null | tr '\n' ' ')]")
    done
    while IFS= read -r node; do
      case "${node#* }" in
        "$instance"/containerd.sock|"$instance"/containerd.sock.ttrpc|"$instance"/debug.sock) ;;
        *) left+=("${node%% *} left: ${node#* }") ;;
      esac
    done < <(find "$instance" \( -type p -printf 'FIFO %p\n' \) -o \( -type s -printf 'socket %p\n' \) 2>/dev/null | sort)
    while read -r _ _ _ _ mount_point _; do
      case "$mount_point" in "$instance"/*) left+=("mount left: $mount_point") ;; esac
    done < /proc/self/mountinfo
    for file in $(grep -lF -- "$CONTAINERD_ADDRESS" /proc/[0-9]*/cmdline 2>/dev/null); do
      pid=${file#/proc/} pid=${pid%/cmdline}
      args=$( { tr '\0' ' ' < "$file"; } 2>/dev/null) || continue
      case "$args" in *" -address $CONTAINERD_ADDRESS "*) left+=("shim process left: $pid $args") ;; esac
    done
    for file in $(grep -lzxF "TTRPC_ADDRESS=$CONTAINERD_ADDRESS.ttrpc" /proc/[0-9]*/environ 2>/dev/null); do
      pid=${file#/proc/} pid=${pid%/environ}
      [ "$pid" = $$ ] && continue
      case " ${left[*]:-} " in *"left: $pid "*) continue ;; esac
      left+=("process of a shim left: $pid $( { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null)")
    done
  fi
fi

if [ ${#left[@]} -eq 0 ]; then
  echo "leftovers: none (run_dir $run_dir${ledger:+, $(sort -u "$ledger" 2>/dev/null | wc -l) task ids}${instance:+, instance $instance})"
  exit 0
fi
echo "leftovers: ${#left[@]} (run_dir $run_dir)"
printf '  %s\n' "${left[@]}"
exit 1
