#!/usr/bin/env bash
# Stops a private containerd started by start.sh and removes everything it left:
#   hack/containerd/stop.sh DIR [--keep]
# 1. kill and delete every task and container in every namespace (via ctr; 20 s per call, 120 s in all), when
#    containerd is alive (not a zombie) and answers `ctr version` within 20 s;
# 2. stop containerd (TERM, then KILL after 10 s);
# 3. kill shims that are still alive (found by `-address <our socket>` in their argv, or the TTRPC_ADDRESS
#    containerd gave them, in two greps over /proc) together with
#    their descendants (QEMU, runc's container processes), then run each one's `shim delete` in its bundle,
#    as containerd does for a shim that died (30 s each): a shim killed without it leaves what lives outside
#    DIR (our runtime's run directory under run_dir and the mounts in it, runc's state). Bundles left by shims
#    that died earlier get the same delete;
# 4. remove our shim sockets from /run/containerd/s, unmount everything under DIR, delete DIR
#    (--keep leaves DIR, e.g. to read containerd.log);
# 5. for a --cri instance: the pods' network namespaces (read from the containers' specs in step 1), the
#    veths on this instance's CNI bridge, the bridge, and libcni's cached results of this network.
# Idempotent; exits 0 unless something could not be removed.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 DIR [--keep]" >&2; exit 2; }
dir=$1 keep=${2:-}
[ -d "$dir" ] || exit 0
cc_load "$dir" || exit 1
ctr() { TMPDIR=$CC_FIFO_DIR timeout 20 "$CTR" --address "$CONTAINERD_ADDRESS" "$@"; }
# Whether pid $1 is a live process. `kill -0` succeeds on a zombie too (a containerd that died but that the process
# which started it has not reaped yet, e.g. a test harness): its sockets are closed, so every ctr call below would
# only wait out its timeout.
alive() {
  local state
  state=$(sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
sockets=() namespaces=() netns=()
# Step 1 is bounded as a whole, not only per call: many tasks of a hung runtime must not hold stop.sh for hours.
orderly_deadline=$((SECONDS + 120))

# 1. Orderly: what containerd knows about, if it is alive and answers (one bounded probe, not a timeout per call).
if ! alive "$CC_CONTAINERD_PID"; then
  [ -e "/proc/$CC_CONTAINERD_PID" ] &&
    echo "containerd: pid $CC_CONTAINERD_PID is a zombie; no orderly clean-up, its shims are killed and deleted below" >&2
elif ! ctr version >/dev/null 2>&1; then
  echo "containerd: pid $CC_CONTAINERD_PID does not answer within 20 s; no orderly clean-up, its shims are killed and deleted below" >&2
else
  for ns in $(ctr namespaces ls -q 2>/dev/null); do
    namespaces+=("$ns")
    for id in $(ctr -n "$ns" containers ls -q 2>/dev/null); do
      if [ "$SECONDS" -ge "$orderly_deadline" ]; then
        echo "containerd: orderly clean-up took 120 s; the rest is killed and deleted below" >&2
        break 2
      fi
      # A pod's network namespace (made by the CRI, named in its sandbox container's spec) outlives the tasks.
      if [ "${CC_CRI:-0}" = 1 ]; then
        netns+=($(ctr -n "$ns" containers info "$id" 2>/dev/null | grep -oE '"path": *"/var/run/netns/[^"]+"' | sed -E 's/.*"(\/var[^"]+)"/\1/'))
      fi
      sockets+=("$(cc_socket_of "$CONTAINERD_ADDRESS" "$ns" "$id")")
      ctr -n "$ns" tasks kill -s SIGKILL "$id" >/dev/null 2>&1
      ctr -n "$ns" tasks rm -f "$id" >/dev/null 2>&1
      ctr -n "$ns" containers rm "$id" >/dev/null 2>&1
    done
  done
fi

# 2. containerd itself (a zombie is dead already: reaping it is its parent's business).
if alive "$CC_CONTAINERD_PID"; then
  kill -TERM "$CC_CONTAINERD_PID"
  for _ in $(seq 1 50); do alive "$CC_CONTAINERD_PID" || break; sleep 0.2; done
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
# "<binary>\t<namespace>\t<id>\t<bundle>" of every shim killed below, for its `delete` afterwards.
deletes=()
# Candidates come from two greps over all of /proc, not a fork per process (which takes minutes on a loaded host).
for file in $(grep -lzxF "TTRPC_ADDRESS=$CONTAINERD_ADDRESS.ttrpc" /proc/[0-9]*/environ 2>/dev/null); do
  pid=${file#/proc/} pid=${pid%/environ}
  [ "$pid" != $$ ] && victims+=("$pid")
done
for file in $(grep -lF -- "$CONTAINERD_ADDRESS" /proc/[0-9]*/cmdline 2>/dev/null); do
  proc=${file%/cmdline}
  args=$( { tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null) || continue
  case "$args" in
    *"-address $CONTAINERD_ADDRESS "*)
      pid=${proc#/proc/}
      ns=$(sed -nE 's/.*-namespace ([^ ]+).*/\1/p' <<<"$args")
      id=$(sed -nE 's/.*-id ([^ ]+).*/\1/p' <<<"$args")
      [ -n "$ns" ] && namespaces+=("$ns")
      [ -n "$ns" ] && [ -n "$id" ] && sockets+=("$(cc_socket_of "$CONTAINERD_ADDRESS" "$ns" "$id")")
      # A shim daemon runs in its bundle (containerd starts it there); read before the kill, while /proc has it.
      exe=$(readlink "$proc/exe" 2>/dev/null) bundle=$(readlink "$proc/cwd" 2>/dev/null)
      if [ -n "$ns" ] && [ -n "$id" ] && [ -n "$exe" ] && [ -f "$bundle/config.json" ]; then
        deletes+=("$exe"$'\t'"$ns"$'\t'"$id"$'\t'"$bundle")
      fi
      victims+=("$pid" $(descendants "$pid"))
      ;;
  esac
done
if [ ${#victims[@]} -gt 0 ]; then
  echo "containerd: killing leftover shim processes: ${victims[*]}" >&2
  kill -KILL "${victims[@]}" 2>/dev/null
  sleep 0.5
fi
# Bundles whose shim is gone already (killed earlier, containerd gone before it could clean up): ours are known by
# the state file our `start` writes; another runtime's bundle is left to the umount and rm below.
for bundle in "$dir"/state/io.containerd.runtime.v2.task/*/*; do
  [ -f "$bundle/cc-state.json" ] || continue
  printf '%s\n' "${deletes[@]}" | grep -qF $'\t'"$bundle" && continue
  ns=$(basename "$(dirname "$bundle")") id=$(basename "$bundle")
  deletes+=("$cc_repo/build/bin/containerd-shim-cc-v2"$'\t'"$ns"$'\t'"$id"$'\t'"$bundle")
done
# What containerd runs for a shim that died: `<shim> … -id <id> -bundle <bundle> delete`, in the bundle. The killed
# daemon cannot clean up its VM's run directory, mounts and network; `delete` can (for ours, from cc-state.json).
for entry in "${deletes[@]}"; do
  IFS=$'\t' read -r exe ns id bundle <<<"$entry"
  [ -x "$exe" ] && [ -d "$bundle" ] || continue
  if ! (cd "$bundle" && TTRPC_ADDRESS="$CONTAINERD_ADDRESS.ttrpc" NAMESPACE="$ns" timeout 30 "$exe" \
      -namespace "$ns" -address "$CONTAINERD_ADDRESS" -publish-binary /bin/true -id "$id" -bundle "$bundle" delete \
      >/dev/null 2>"$dir/shim-delete.err"); then
    echo "containerd: \`shim delete\` of $ns/$id failed: $(tail -c 400 "$dir/shim-delete.err" 2>/dev/null)" >&2
  fi
  rm -f "$dir/shim-delete.err"
done

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
# 5. CNI: deleting a netns destroys the veth inside it and so its host peer; stray peers and the bridge go after.
if [ "${CC_CRI:-0}" = 1 ]; then
  for n in $(printf '%s\n' "${netns[@]}" | sort -u); do
    umount "$n" 2>/dev/null || umount -l "$n" 2>/dev/null
    rm -f "$n" || status=1
  done
  if [ -n "${CC_CNI_BRIDGE:-}" ] && ip link show "$CC_CNI_BRIDGE" >/dev/null 2>&1; then
    for veth in $(ip -o link show master "$CC_CNI_BRIDGE" 2>/dev/null | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'); do
      ip link del "$veth" 2>/dev/null
    done
    ip link del "$CC_CNI_BRIDGE" || status=1
  fi
  network=$(sed -nE 's/.*"name": *"(cc-[0-9a-f]+)".*/\1/p' "$dir/cni/conf/10-cc.conflist" 2>/dev/null)
  [ -n "$network" ] && rm -f /var/lib/cni/results/"$network"-* 2>/dev/null
fi
if [ "$keep" != --keep ]; then
  rm -rf "$dir" || status=1
fi
exit $status
