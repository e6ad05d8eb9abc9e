# Shared by hack/containerd/*.sh (sourced, not run). Resolves the binaries of one containerd version
# and the files of one private instance directory.

# cc_repo: the checkout's root (absolute).
cc_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# cc_bins <version>: sets CONTAINERD, CTR and SHIM_DIR (the directory of that version's
# containerd-shim-runc-v2, which goes on containerd's PATH after build/bin).
cc_bins() {
  case "$1" in
    1.6) SHIM_DIR=/usr/bin ;;
    1.7) SHIM_DIR=$cc_repo/build/trixie/root/usr/bin ;;
    *) echo "containerd: unknown version '$1' (want 1.6 or 1.7)" >&2; return 2 ;;
  esac
  CONTAINERD=$SHIM_DIR/containerd
  CTR=$SHIM_DIR/ctr
  if [ ! -x "$CONTAINERD" ]; then
    if [ "$1" = 1.7 ]; then
      echo "containerd: $CONTAINERD is missing: run hack/fetch-trixie.sh (make deps)" >&2
    else
      echo "containerd: $CONTAINERD is missing: apt-get install containerd (make deps)" >&2
    fi
    return 1
  fi
}

# cc_load <dir>: reads <dir>/env, written by start.sh.
cc_load() {
  if [ ! -f "$1/env" ]; then echo "containerd: $1/env is missing (not started by start.sh?)" >&2; return 1; fi
  # shellcheck disable=SC1091
  . "$1/env"
}

# cc_socket_of <address> <namespace> <id>: the shim socket path every reference shim (and ours)
# derives for a task: /run/containerd/s/<sha256 of "<address>/<ns>/<id>"> (protocol.md §2.4.1).
cc_socket_of() {
  printf '/run/containerd/s/%s' "$(printf '%s/%s/%s' "$1" "$2" "$3" | sha256sum | cut -c1-64)"
}

# cni_setup <dir>: CNI for a --cri instance. The bridge name and the subnet derive from the instance dir, and a
# subnet another bridge already routes is skipped, so that instances side by side never share either. Sets
# cni_bridge. The addresses exist only on this machine's bridge (no masquerade, no iptables rules).
cni_setup() {
  local dir=$1 plugin n hash subnet
  for plugin in bridge host-local loopback; do
    if [ ! -x "/usr/lib/cni/$plugin" ]; then
      echo "containerd: /usr/lib/cni/$plugin is missing: apt-get install containernetworking-plugins (make deps)" >&2
      return 1
    fi
    install -m 0755 "/usr/lib/cni/$plugin" "$dir/cni/bin/$plugin"
  done
  hash=$(printf '%s' "$dir" | sha256sum | cut -c1-8)
  cni_bridge=cc${hash:0:6}
  n=$(( 16#${hash:0:4} % 1024 ))
  for _ in $(seq 1 1024); do
    subnet=172.$(( 20 + n / 256 )).$(( n % 256 ))
    ip -4 route show | grep -q "^$subnet\.0/24 " || break
    n=$(( (n + 1) % 1024 ))
  done
  mkdir -p "$dir/cni/ipam"
  cat >"$dir/cni/conf/10-cc.conflist" <<CONF
{
  "cniVersion": "1.0.0",
  "name": "cc-$hash",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$cni_bridge",
      "isGateway": true,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "$dir/cni/ipam",
        "ranges": [[{ "subnet": "$subnet.0/24", "gateway": "$subnet.1" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "loopback" }
  ]
}
CONF
}

# cri_images <dir>: the local pause (the CRI's sandbox_image) and busybox images, in namespace k8s.io.
cri_images() {
  local dir=$1
  bash "$cc_repo/hack/images/build.sh" >&2 || { echo "containerd: the test images could not be built" >&2; return 1; }
  # shellcheck disable=SC1091
  . "$cc_repo/build/images/images.env"
  timeout 60 "$CTR" --address "$dir/containerd.sock" -n k8s.io images import --base-name "$PAUSE_BASE" "$PAUSE_TAR" >/dev/null \
    && timeout 60 "$CTR" --address "$dir/containerd.sock" -n k8s.io images import --base-name "$BUSYBOX_BASE" "$BUSYBOX_TAR" >/dev/null \
    || { echo "containerd: importing the test images into k8s.io failed" >&2; return 1; }
}
