#!/usr/bin/env bash
# Starts a PRIVATE containerd (1.6 from Debian 12 or 1.7 from trixie, hack/fetch-trixie.sh) with its
# own root, state, sockets and log under one directory, and waits until it answers.
#
#   hack/containerd/start.sh [--version 1.6|1.7] [--dir DIR] [--cri] [--log-level LEVEL]
#                            [--stock] [--shim-dir DIR] [--configure COMMAND]
#
# Prints the instance directory on stdout; everything else goes to stderr. The directory holds
# config.toml, containerd.log, env (CTR, CONTAINERD_ADDRESS, ... for hack/containerd/ctr.sh and
# stop.sh) and fifo/ (where ctr.sh makes ctr create its stdio FIFOs, so leaks are visible).
# --cri keeps the CRI plugin (off by default: the ctr tests do not need it and it costs start time) and
# gives it what a kubelet node has: CNI (Debian's bridge, host-local and loopback plugins copied into
# cni/bin, one conflist in cni/conf with a bridge and a 172.2x.N.0/24 range unique to this instance, IPAM
# state in cni/ipam) and the local pause and busybox images imported into namespace k8s.io
# (hack/images/build.sh, cached). stop.sh removes the pods' network namespaces, veths and the bridge.
# CC_CRI_REGISTRY_CONFIG=DIR (with --cri): the CRI plugin resolves registries through DIR's
# <host>/hosts.toml files (containerd's config_path), e.g. a loopback registry standing in for gcr.io
# (hack/critest.sh); unset, the CRI plugin keeps its defaults.
# containerd finds `containerd-shim-cc-v2` on its PATH, which starts with build/bin (protocol.md §2.1).
# A node as an installer finds it (hack/install.sh, its integration test): --stock renders config.toml without our
# `cc` handler, --shim-dir DIR puts DIR on containerd's PATH instead of build/bin, and --configure COMMAND runs
# COMMAND (bash) after config.toml is rendered and before containerd starts, with CC_CONTAINERD_CONFIG naming the
# file; a COMMAND that fails stops the start with nothing left behind.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

version=1.6 dir= cri=0 level=info stock=0 shim_dir= configure=
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --cri) cri=1; shift ;;
    --log-level) level=$2; shift 2 ;;
    --stock) stock=1; shift ;;
    --shim-dir) shim_dir=$2; shift 2 ;;
    --configure) configure=$2; shift 2 ;;
    *) echo "usage: $0 [--version 1.6|1.7] [--dir DIR] [--cri] [--log-level LEVEL] [--stock] [--shim-dir DIR] [--configure COMMAND]" >&2; exit 2 ;;
  esac
done
cc_bins "$version"
if [ "$(id -u)" -ne 0 ]; then echo "containerd: must run as root" >&2; exit 1; fi

# Instances whose containerd died without stop.sh (a killed test run) are removed first, with their
# orphaned shims and VMs; live instances (another test run, a demo) are left alone. Only instances started from this
# checkout (CC_REPO in their env) are ours to judge: another checkout's instance may be between the SIGTERM and the
# new pid of hack/containerd/restart.sh, its shims alive and awaited by its test; reaping it would kill them.
for stale in /tmp/cc-ctrd.*; do
  [ -f "$stale/env" ] || continue
  grep -qxF "CC_REPO=$cc_repo" "$stale/env" || continue
  pid=$(sed -n 's/^CC_CONTAINERD_PID=//p' "$stale/env")
  # A zombie counts as gone: until its new parent reaps it, kill -0 still succeeds.
  if [ -n "$pid" ] && { ! kill -0 "$pid" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = Z ]; }; then
    echo "containerd: removing stale instance $stale (containerd $pid is gone)" >&2
    bash "$cc_repo/hack/containerd/stop.sh" "$stale" >&2 || true
  fi
done

# Short paths: the gRPC socket must fit sun_path (108 bytes) and is hashed into the shim socket name.
[ -n "$dir" ] || dir=$(mktemp -d /tmp/cc-ctrd.XXXXXX)
mkdir -p "$dir"/{root,state,opt,fifo,cni/bin,cni/conf}
dir=$(cd "$dir" && pwd)
chmod 0711 "$dir"

pause_image=localhost/cc/pause:test
disabled='"io.containerd.grpc.v1.cri"'
[ "$cri" -eq 0 ] || disabled=''
sed -e "s|@DIR@|$dir|g" -e "s|@DISABLED@|$disabled|" -e "s|@LOG_LEVEL@|$level|" \
    -e "s|@PAUSE_IMAGE@|$pause_image|" -e "s|@CC_CONFIG@|$cc_repo/build/configuration.toml|" \
    "$cc_repo/hack/containerd/config.toml.in" >"$dir/config.toml"
if [ "$stock" -eq 1 ]; then
  # The cc handler is the template's last table, from its comment to its ConfigPath line.
  sed -i '/# Our runtime: io.containerd.cc.v2/,/ConfigPath = /d' "$dir/config.toml"
fi
if [ "$cri" -eq 1 ] && [ -n "${CC_CRI_REGISTRY_CONFIG:-}" ]; then
  [ -d "$CC_CRI_REGISTRY_CONFIG" ] || { echo "containerd: CC_CRI_REGISTRY_CONFIG=$CC_CRI_REGISTRY_CONFIG is not a directory" >&2; exit 1; }
  # A table of its own at the end: TOML lets a sub-table follow its parent's other sub-tables.
  printf '\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = "%s"\n' \
    "$(cd "$CC_CRI_REGISTRY_CONFIG" && pwd)" >>"$dir/config.toml"
fi

if [ -n "$configure" ] && ! CC_CONTAINERD_CONFIG=$dir/config.toml bash -c "$configure" >&2; then
  echo "containerd: --configure failed: $configure" >&2
  rm -rf "$dir"
  exit 1
fi

[ "$cri" -eq 0 ] || cni_setup "$dir"

address=$dir/containerd.sock
log=$dir/containerd.log
# cwd = the instance dir: containerd looks for shim binaries in its cwd first, so a stray binary in
# the caller's directory must not win over build/bin. setsid: a Ctrl-C aimed at the caller must not
# kill containerd before stop.sh has cleaned up its tasks.
(
  cd "$dir"
  PATH=${shim_dir:-$cc_repo/build/bin}:$SHIM_DIR:$PATH exec setsid "$CONTAINERD" --config "$dir/config.toml" \
    </dev/null >>"$log" 2>&1
) &
pid=$!

cat >"$dir/env" <<ENV
CC_REPO=$cc_repo
CC_CONTAINERD_VERSION=$version
CC_CONTAINERD_DIR=$dir
CC_CONTAINERD_PID=$pid
CC_CONTAINERD_LOG=$log
CC_FIFO_DIR=$dir/fifo
CONTAINERD=$CONTAINERD
CTR=$CTR
CONTAINERD_ADDRESS=$address
CC_CRI=$cri
CC_CNI_BRIDGE=${cni_bridge:-}
ENV

# Ready when the API answers (the socket file appears before the services are registered).
for _ in $(seq 1 150); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "containerd $version exited during start-up; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  if [ -S "$address" ] && timeout 5 "$CTR" --address "$address" version >/dev/null 2>&1; then
    if [ "$cri" -eq 1 ] && ! cri_images "$dir"; then
      bash "$cc_repo/hack/containerd/stop.sh" "$dir" >&2 || true
      exit 1
    fi
    echo "$dir"
    exit 0
  fi
  sleep 0.2
done
echo "containerd $version did not answer on $address within 30 s; last lines of $log:" >&2
tail -n 20 "$log" >&2
kill -KILL "$pid" 2>/dev/null || true
exit 1
