#!/usr/bin/env bash
# The private containerd of the bench parts that run containers through `ctr` (30-shim.sh, 31-density.sh,
# 45-stdio-exec.sh), sourced by each after it defines log() and sets `version` (1.6 or 1.7). Only the set-up lives
# here: what a part measures stays in the part.

dir=     # the containerd instance directory (hack/containerd/start.sh); empty until it started
bench_namespace= # the namespace ctr works in
address= # its socket: a part finds its shims by the `-address` containerd passes them

# bench_containerd_up NAMESPACE: builds the busybox image (cached) and loads its variables (BUSYBOX_IMAGE, ...),
# starts a private containerd $version, sets dir and address, defines ctr (hack/containerd/ctr.sh on this instance,
# in NAMESPACE) and imports busybox into NAMESPACE. Exits the part when any step fails (after log), as each part did.
bench_containerd_up() {
  local namespace=$1
  bash hack/images/build.sh busybox >&2 || { log "hack/images/build.sh failed"; exit 1; }
  # shellcheck disable=SC1091
  . build/images/images.env
  dir=$(bash hack/containerd/start.sh --version "$version") || { log "containerd $version did not start"; exit 1; }
  address=$dir/containerd.sock
  bench_namespace=$namespace
  ctr images import --base-name "$BUSYBOX_BASE" "$BUSYBOX_TAR" >/dev/null || { log "image import failed"; exit 1; }
}

ctr() { bash hack/containerd/ctr.sh "$dir" -n "$bench_namespace" "$@"; }

# bench_containerd_down: stops the instance and removes what it left (for the part's EXIT trap); nothing when it
# never started.
bench_containerd_down() {
  [ -z "$dir" ] || bash hack/containerd/stop.sh "$dir" >&2 || log "clean-up of $dir was incomplete"
}

# bench_run_dir CONFIG: the shim's run_dir that configuration.toml CONFIG sets (the shim's default /run/cc when unset).
bench_run_dir() {
  local r
  r=$(sed -nE 's/^[[:space:]]*run_dir[[:space:]]*=[[:space:]]*"([^"]+)".*/\1/p' "$1" 2>/dev/null | head -1)
  echo "${r:-/run/cc}"
}
