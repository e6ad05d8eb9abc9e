#!/usr/bin/env bash
# Stops a private dockerd started by start.sh and removes everything it left:
#   hack/docker/stop.sh DIR [--keep]
# 1. remove every container (docker rm -f, bounded), so each task is deleted through its shim;
# 2. stop dockerd (TERM, then KILL after 20 s: its own shutdown gives containers 15 s);
# 3. hack/containerd/stop.sh on the instance's containerd: tasks, containerd, leftover shims and VMs, shim sockets;
# 4. unmount everything under DIR (overlay2 layers, netns files) deepest first and delete DIR (--keep leaves it,
#    e.g. to read dockerd.log; the containerd dir is kept with it);
# 5. delete the instance's bridge and every iptables rule that names it (start.sh adds none: --iptables=false),
#    then fail if any is still there.
# Idempotent; exits 0 unless something could not be removed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 DIR [--keep]" >&2; exit 2; }
dir=$1 keep=${2:-}
[ -d "$dir" ] || exit 0
docker_load "$dir" || exit 1
status=0

# 1. Orderly: what dockerd knows about.
if [ -n "$CC_DOCKERD_PID" ] && kill -0 "$CC_DOCKERD_PID" 2>/dev/null; then
  ids=$(timeout 20 env DOCKER_CONFIG="$dir/cli" "$DOCKER" -H "$DOCKER_HOST" ps -aq 2>/dev/null)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || timeout 60 env DOCKER_CONFIG="$dir/cli" "$DOCKER" -H "$DOCKER_HOST" rm -f $ids >/dev/null 2>&1
fi

# 2. dockerd itself.
if [ -n "$CC_DOCKERD_PID" ] && kill -0 "$CC_DOCKERD_PID" 2>/dev/null; then
  kill -TERM "$CC_DOCKERD_PID"
  for _ in $(seq 1 100); do kill -0 "$CC_DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$CC_DOCKERD_PID" 2>/dev/null
fi

# 3. containerd and whatever of ours still runs under it.
if [ -d "$CC_CONTAINERD_DIR" ]; then
  bash "$cc_repo/hack/containerd/stop.sh" "$CC_CONTAINERD_DIR" ${keep:+--keep} || status=1
fi

# 4. Files. dockerd mounts the layers of its containers (overlay2) and may leave them after a KILL.
for m in $(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || { echo "docker: cannot unmount $m" >&2; status=1; }
done
if [ "$keep" != --keep ]; then
  rm -rf "$dir" || status=1
fi

# 5. The network. Veths of containers dockerd did not remove go with the bridge they are enslaved to only if deleted
#    themselves: each one whose master is the bridge is deleted first (its peer, in a container's netns, goes with it).
bridge=${CC_DOCKER_BRIDGE:-}
if [ -n "$bridge" ] && ip link show dev "$bridge" >/dev/null 2>&1; then
  for veth in $(ip -o link show master "$bridge" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
    ip link del "$veth" 2>/dev/null
  done
  ip link del "$bridge" || { echo "docker: cannot delete bridge $bridge" >&2; status=1; }
fi
if [ -n "$bridge" ] && command -v iptables >/dev/null; then
  for table in filter nat mangle raw; do
    iptables -w -t "$table" -S 2>/dev/null | grep -F -- "$bridge" | grep '^-A ' | while read -r rule; do
      # shellcheck disable=SC2086
      iptables -w -t "$table" -D ${rule#-A } || echo "docker: cannot delete iptables rule: $rule" >&2
    done
    if iptables -w -t "$table" -S 2>/dev/null | grep -qF -- "$bridge"; then
      echo "docker: iptables rules naming $bridge are left in table $table" >&2
      status=1
    fi
  done
fi
exit $status
