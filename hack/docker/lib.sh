# Shared by hack/docker/*.sh (sourced, not run). Resolves trixie's Docker binaries and the files of one
# private dockerd instance directory.

# cc_repo: the checkout's root (absolute).
cc_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Debian trixie's docker.io (dockerd) and docker-cli (docker), extracted by hack/fetch-trixie.sh, never installed.
DOCKERD=$cc_repo/build/trixie/root/usr/sbin/dockerd
DOCKER=$cc_repo/build/trixie/root/usr/bin/docker

# docker_bins: fetches docker.io, docker-cli and containerd 1.7 from trixie when any is missing (idempotent).
docker_bins() {
  if [ ! -x "$DOCKERD" ] || [ ! -x "$DOCKER" ] || [ ! -x "$cc_repo/build/trixie/root/usr/bin/containerd" ]; then
    echo "docker: fetching docker.io, docker-cli and containerd from trixie (hack/fetch-trixie.sh)" >&2
    bash "$cc_repo/hack/fetch-trixie.sh" docker.io docker-cli containerd >&2 || return 1
  fi
}

# docker_load <dir>: reads <dir>/env, written by start.sh.
docker_load() {
  if [ ! -f "$1/env" ]; then echo "docker: $1/env is missing (not started by start.sh?)" >&2; return 1; fi
  # shellcheck disable=SC1091
  . "$1/env"
}

# docker_cli <dir> <args...>: trixie's docker CLI against the instance, with a client config of its own (never ~/.docker).
docker_cli() {
  local dir=$1; shift
  DOCKER_CONFIG=$dir/cli DOCKER_HOST=unix://$dir/docker.sock "$DOCKER" "$@"
}
