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
