#!/usr/bin/env bash
# Starts a PRIVATE dockerd (Debian trixie's Docker 26.1, hack/fetch-trixie.sh) on a private containerd 1.7
# (hack/containerd/start.sh --version 1.7), with `cc` in its runtimes, and loads the local busybox image.
#
#   hack/docker/start.sh [--dir DIR] [--log-level LEVEL]
#
# Prints the instance directory on stdout; everything else goes to stderr. Under it: daemon.json, dockerd.log,
# docker.sock (the API), docker.pid, data/ (--data-root: images, overlay2 layers, container state), exec/
# (--exec-root), cli/ (DOCKER_CONFIG of hack/docker/docker.sh), ctrd/ (the containerd instance) and env (for
# docker.sh and stop.sh). Nothing outside it is touched except what every containerd instance shares
# (/run/containerd/s, hack/containerd/README.md) and the shim's run_dir.
#
# Docker reaches our shim through containerd: daemon.json's runtimes.cc.runtimeType io.containerd.cc.v2 is handed to
# containerd, which resolves containerd-shim-cc-v2 on ITS PATH, which starts with build/bin (protocol.md §2.1).
# Networking: a bridge of the instance's own (ccd-<hash of DIR>, never docker0) with a /24 of its own from
# 10.231.0.0/16 is Docker's default network, so containers get Docker's IP, routes and published ports as on any host
# (docs/docker.md, "Networking"). No iptables (--iptables=false): other instances and other users of this host share
# the kernel's tables, and Docker's chains (DOCKER, DOCKER-USER) are global names. Published ports go through
# docker-proxy (userland-proxy), which listens on the host port and connects to the container's IP over the bridge:
# no NAT rule is needed. The containers cannot reach beyond the host (no forwarding, no masquerade). stop.sh deletes
# the bridge and any iptables rule that names it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dir= level=info
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --log-level) level=$2; shift 2 ;;
    *) echo "usage: $0 [--dir DIR] [--log-level LEVEL]" >&2; exit 2 ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then echo "docker: must run as root" >&2; exit 1; fi
docker_bins

# Instances whose dockerd died without stop.sh (a killed test run) are removed first, with their containerd,
# shims and VMs; live instances are left alone.
for stale in /tmp/cc-docker.*; do
  [ -f "$stale/env" ] || continue
  pid=$(sed -n 's/^CC_DOCKERD_PID=//p' "$stale/env")
  # A zombie counts as gone: until its new parent reaps it, kill -0 still succeeds.
  if [ -n "$pid" ] && { ! kill -0 "$pid" 2>/dev/null || [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" = Z ]; }; then
    echo "docker: removing stale instance $stale (dockerd $pid is gone)" >&2
    bash "$cc_repo/hack/docker/stop.sh" "$stale" >&2 || true
  fi
done

# Short paths: containerd's socket must fit sun_path (108 bytes) and is hashed into the shim socket name.
[ -n "$dir" ] || dir=$(mktemp -d /tmp/cc-docker.XXXXXX)
mkdir -p "$dir"/{data,exec,cli}
dir=$(cd "$dir" && pwd)
chmod 0711 "$dir"
log=$dir/dockerd.log
: >"$log"

# The bridge's name: IFNAMSIZ allows 15 bytes; unique per instance directory.
bridge=ccd-$(printf %s "$dir" | sha1sum | cut -c1-8)

# Written before anything starts, so stop.sh can clean up a start that fails half-way.
write_env() {
  cat >"$dir/env" <<ENV
CC_DOCKER_DIR=$dir
CC_DOCKERD_PID=${pid:-}
CC_DOCKER_BRIDGE=$bridge
CC_DOCKER_SUBNET=${subnet:-}
CC_DOCKER_POOL=${pool:-}
CC_DOCKERD_LOG=$log
CC_CONTAINERD_DIR=$dir/ctrd
DOCKER_HOST=unix://$dir/docker.sock
DOCKER_CONFIG=$dir/cli
ENV
}
write_env
fail() {
  echo "docker: $*" >&2
  bash "$cc_repo/hack/docker/stop.sh" "$dir" >&2 || true
  exit 1
}

# The bridge, with the first 10.231.N.1/24 no interface or route of this host uses (under a lock: instances start
# at the same time), and 10.232.N.0/24 for the networks `docker network create` makes (default-address-pools).
make_bridge() {
  exec 9>/tmp/cc-docker.subnet.lock
  flock 9
  local used n
  used=$(ip -4 -o addr show; ip -4 route show table all)
  for n in $(seq 1 254); do
    if ! grep -qE "(^|[^0-9])10\.23[12]\.$n\.[0-9]" <<<"$used"; then
      subnet=10.231.$n.0/24 pool=10.232.$n.0/24
      write_env
      ip link add "$bridge" type bridge || return 1
      ip addr add "10.231.$n.1/24" dev "$bridge" || return 1
      ip link set "$bridge" up || return 1
      flock -u 9
      exec 9>&-
      return 0
    fi
  done
  echo "docker: no free 10.231.N.0/24 for the bridge" >&2
  return 1
}
make_bridge || fail "the bridge $bridge could not be made"

bash "$cc_repo/hack/containerd/start.sh" --version 1.7 --dir "$dir/ctrd" --log-level "$level" >/dev/null \
  || fail "the private containerd 1.7 did not start"

# daemon.json: every path is the instance's. The cc entry is the one a user writes (docs/docker.md).
cat >"$dir/daemon.json" <<JSON
{
  "data-root": "$dir/data",
  "exec-root": "$dir/exec",
  "pidfile": "$dir/docker.pid",
  "hosts": ["unix://$dir/docker.sock"],
  "containerd": "$dir/ctrd/containerd.sock",
  "log-level": "$level",
  "storage-driver": "overlay2",
  "features": { "containerd-snapshotter": false },
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "bridge": "$bridge",
  "default-address-pools": [{ "base": "$pool", "size": 26 }],
  "userland-proxy": true,
  "userland-proxy-path": "$cc_repo/build/trixie/root/usr/sbin/docker-proxy",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "runtimes": {
    "cc": {
      "runtimeType": "io.containerd.cc.v2",
      "options": { "ConfigPath": "$cc_repo/build/configuration.toml" }
    }
  }
}
JSON

# cwd = the instance dir and setsid, as for containerd (hack/containerd/start.sh): a Ctrl-C aimed at the caller must
# not kill dockerd before stop.sh has removed its containers.
(
  cd "$dir"
  PATH=$cc_repo/build/bin:$cc_repo/build/trixie/root/usr/bin:$cc_repo/build/trixie/root/usr/sbin:$PATH \
    exec setsid "$DOCKERD" --config-file "$dir/daemon.json" </dev/null >>"$log" 2>&1
) &
pid=$!
write_env

# Ready when the API answers (the socket appears before the daemon has restored its state).
ready=0
for _ in $(seq 1 300); do
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 20 "$log" >&2
    fail "dockerd exited during start-up (last lines of $log above)"
  fi
  if [ -S "$dir/docker.sock" ] && timeout 5 env DOCKER_CONFIG="$dir/cli" "$DOCKER" -H "unix://$dir/docker.sock" version >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.2
done
[ "$ready" -eq 1 ] || { tail -n 20 "$log" >&2; fail "dockerd did not answer on $dir/docker.sock within 60 s"; }

# The local busybox image (hack/images/build.sh, cached), as a docker-archive that carries its tag: Docker 26 on
# overlay2 does not load OCI archives (hack/docker/docker-archive.py).
bash "$cc_repo/hack/images/build.sh" busybox >&2 || fail "the busybox test image could not be built"
# shellcheck disable=SC1091
. "$cc_repo/build/images/images.env"
archive=$cc_repo/build/images/busybox.docker.tar
if [ ! -f "$archive" ] || [ "$archive" -ot "$BUSYBOX_TAR" ]; then
  python3 "$cc_repo/hack/docker/docker-archive.py" "$BUSYBOX_TAR" "$BUSYBOX_IMAGE" "$archive.tmp" \
    && mv "$archive.tmp" "$archive" || fail "could not convert $BUSYBOX_TAR into a docker-archive"
fi
loaded=$(timeout 120 env DOCKER_CONFIG="$dir/cli" "$DOCKER" -H "unix://$dir/docker.sock" load -i "$archive" 2>&1) \
  || fail "docker load $archive failed: $loaded"
grep -qxF "Loaded image: $BUSYBOX_IMAGE" <<<"$loaded" || fail "docker load did not load $BUSYBOX_IMAGE: $loaded"
echo "$dir"
