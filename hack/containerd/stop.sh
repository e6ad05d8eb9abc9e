#!/usr/bin/env bash
# Stops a private containerd started by start.sh and removes everything it left:
#   hack/containerd/stop.sh DIR [--keep]
# 1. kill and delete every task and container in every namespace (bounded, via ctr);
# 2. stop containerd (TERM, then KILL after 10 s);
# 3. kill shims that are still alive (found by `-address <our socket>` in their argv) together with
#    their descendants (QEMU, runc's container processes);
# 4. remove our shim sockets from /run/containerd/s, unmount everything under DIR, delete DIR
#    (--keep leaves DIR, e.g. to read containerd.log).
# Idempotent; exits 0 unless something could not be removed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 DIR [--keep]" >&2; exit 2; }
dir=$1 keep=${2:-}
[ -d "$dir" ] || exit 0
cc_load "$dir" || exit 1
ctr() { TMPDIR=$CC_FIFO_DIR timeout 20 "$CTR" --address "$CONTAINERD_ADDRESS" "$@"; }
sockets=() namespaces=()

# 1. Orderly: what containerd knows about.
if kill -0 "$CC_CONTAINERD_PID" 2>/dev/null; then
  for ns in $(ctr namespaces ls -q 2>/dev/null); do
    namespaces+=("$ns")
    for id in $(ctr -n "$ns" containers ls -q 2>/dev/null); do
      sockets+=("$(cc_socket_of "$CONTAINERD_ADDRESS" "$ns" "$id")")
      ctr -n "$ns" tasks kill -s SIGKILL "$id" >/dev/null 2>&1
      ctr -n "$ns" tasks rm -f "$id" >/dev/null 2>&1
      ctr -n "$ns" containers rm "$id" >/dev/null 2>&1
    done
  done
fi

# 2. containerd itself.
if kill -0 "$CC_CONTAINERD_PID" 2>/dev/null; then
  kill -TERM "$CC_CONTAINERD_PID"
  for _ in $(seq 1 50); do kill -0 "$CC_CONTAINERD_PID" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$CC_CONTAINERD_PID" 2>/dev/null
fi

# 3. Shims that outlived it (a shim is a daemon, not containerd's child) and their descendants. A
#    process is ours if its argv has `-address <our socket>` (a shim) or if it inherited the
#    TTRPC_ADDRESS that containerd gives every shim it runs (children of a shim, even orphaned ones
#    whose shim is gone, e.g. after a killed `start`).
descendants() {
  local p
  for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$p"; descendants "$p"; done
}
victims=()
for proc in /proc/[0-9]*; do
  args=$( { tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null) || continue
  if [ "${proc#/proc/}" != $$ ] && { tr '\0' '\n' <"$proc/environ"; } 2>/dev/null | grep -qxF "TTRPC_ADDRESS=$CONTAINERD_ADDRESS.ttrpc"; then
    victims+=("${proc#/proc/}")
  fi
  case "$args" in
    *"-address $CONTAINERD_ADDRESS "*)
      pid=${proc#/proc/}
      ns=$(sed -nE 's/.*-namespace ([^ ]+).*/\1/p' <<<"$args")
      id=$(sed -nE 's/.*-id ([^ ]+).*/\1/p' <<<"$args")
      [ -n "$ns" ] && namespaces+=("$ns")
      [ -n "$ns" ] && [ -n "$id" ] && sockets+=("$(cc_socket_of "$CONTAINERD_ADDRESS" "$ns" "$id")")
      victims+=("$pid" $(descendants "$pid"))
      ;;
  esac
done
if [ ${#victims[@]} -gt 0 ]; then
  echo "containerd: killing leftover shim processes: ${victims[*]}" >&2
  kill -KILL "${victims[@]}" 2>/dev/null
  sleep 0.5
fi

# 4. Files. Sockets of shims found above; mounts (rootfs overlays, shm) deepest first.
for s in "${sockets[@]}"; do rm -f "$s"; done
# The runc shim's state root and ctr's default FIFO dir are shared paths too: remove them only when
# empty, so another containerd's state is never touched.
for ns in "${namespaces[@]}"; do rmdir "/run/containerd/runc/$ns" 2>/dev/null; done
rmdir /run/containerd/runc /run/containerd/fifo /run/containerd/s /run/containerd 2>/dev/null
status=0
for m in $(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || { echo "containerd: cannot unmount $m" >&2; status=1; }
done
if [ "$keep" != --keep ]; then
  rm -rf "$dir" || status=1
fi
exit $status
