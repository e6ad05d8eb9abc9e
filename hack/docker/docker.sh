#!/usr/bin/env bash
# trixie's docker CLI against a private dockerd started by hack/docker/start.sh:
#   hack/docker/docker.sh DIR <docker args...>     e.g. hack/docker/docker.sh "$dir" run --rm --runtime cc IMAGE uname -r
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 DIR <docker args...>" >&2; exit 2; }
dir=$1; shift
docker_cli "$dir" "$@"
