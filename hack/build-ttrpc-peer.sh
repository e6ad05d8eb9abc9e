#!/usr/bin/env bash
# Builds the Go ttrpc reference peer (hack/ttrpc-peer) twice, in GOPATH mode with no module proxy:
#   build/ttrpc-peer/peer-v1.1  bookworm's ttrpc 1.1 (containerd 1.6's line) with /usr/bin/go (1.19)
#   build/ttrpc-peer/peer-v1.2  trixie's ttrpc 1.2 (containerd 1.7/2.x, streaming) with Go 1.24,
#                               both extracted under build/trixie/root by hack/fetch-trixie.sh
# Needs `make deps` first (golang-go, golang-github-containerd-ttrpc-dev and the trixie tree).
# Idempotent: a binary newer than every peer source is kept. Safe to run concurrently (flock).
# Usage: hack/build-ttrpc-peer.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build/ttrpc-peer
src=$root/hack/ttrpc-peer
trixie=$root/build/trixie/root
mkdir -p "$out"
exec 9>"$out/.lock"
flock -w 300 9 || { echo "build-ttrpc-peer: another build holds $out/.lock" >&2; exit 1; }

force=0
[ "${1:-}" = "--force" ] && force=1
fresh() { # fresh BINARY: true when BINARY exists and neither a peer source nor this script is newer
  [ "$force" = 0 ] && [ -x "$1" ] && [ -z "$(find "$src" "$0" -newer "$1" -print -quit)" ]
}

build() { # build NAME GO GOROOT GOPATH [TAGS]
  local name=$1 gobin=$2 goroot=$3 gopath=$4 tags=${5:-}
  if fresh "$out/$name"; then echo "build-ttrpc-peer: $name is up to date"; return; fi
  if [ ! -x "$gobin" ]; then
    echo "build-ttrpc-peer: $gobin is missing (run make deps)" >&2; exit 1
  fi
  if [ ! -d "$gopath/src/github.com/containerd/ttrpc" ]; then
    echo "build-ttrpc-peer: no ttrpc source under $gopath (run make deps)" >&2; exit 1
  fi
  # GOPATH mode: imports resolve from the Debian source trees only; nothing is downloaded.
  (cd "$src" && env GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local GOROOT="$goroot" \
      GOPATH="$gopath" GOCACHE="$out/gocache-$name" CGO_ENABLED=0 \
      "$gobin" build -trimpath ${tags:+-tags "$tags"} -o "$out/$name.tmp" .)
  mv -f "$out/$name.tmp" "$out/$name"
  echo "build-ttrpc-peer: built $out/$name"
}

build peer-v1.1 /usr/bin/go "$(/usr/bin/go env GOROOT 2>/dev/null || echo /usr/lib/go)" /usr/share/gocode
build peer-v1.2 "$trixie/usr/lib/go-1.24/bin/go" "$trixie/usr/lib/go-1.24" "$trixie/usr/share/gocode" ttrpc12
