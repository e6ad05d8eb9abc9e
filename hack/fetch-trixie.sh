#!/usr/bin/env bash
# Downloads packages from Debian trixie and extracts them under build/trixie/root without installing
# anything system-wide (the developers' guide: pin trixie low, use apt-get download + dpkg -x).
# Used for: containerd 1.7 (second containerd of the integration suite), Go 1.24 and ttrpc 1.2 (the
# streaming-capable reference peer), the CRI api.proto (golang-github-kubernetes-cri-api-dev, for
# integration/Cc.Integration.Cri), Docker 26.1 (docker.io = dockerd, docker-cli = docker; for
# hack/docker and integration/Cc.Integration.Docker; its other Depends are avoided, hack/docker/README.md).
# Go library packages pull their golang-*-dev dependencies along so that the peer builds in GOPATH mode
# with no module proxy.
# Usage: hack/fetch-trixie.sh [package...]   (default: the set above). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD/build/trixie
want=("$@")
[ ${#want[@]} -gt 0 ] || want=(containerd golang-1.24-go golang-1.24-src golang-github-containerd-ttrpc-dev golang-github-kubernetes-cri-api-dev
                                  docker.io docker-cli)
stamp=$top/stamp.$(echo "${want[*]}" | sha256sum | cut -c1-16)
[ -f "$stamp" ] && exit 0

mkdir -p "$top"/apt/lists/partial "$top"/apt/archives/partial "$top"/debs "$top"/root
echo "deb http://deb.debian.org/debian trixie main" > "$top/sources.list"
apt=(-o Dir::Etc::SourceList="$top/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o Dir::State="$top/apt" -o Dir::State::status=/var/lib/dpkg/status -o Dir::Cache="$top/apt"
     -o APT::Get::List-Cleanup=0)
apt-get "${apt[@]}" update -qq

# Closure: the wanted packages plus, when the ttrpc library is wanted, every golang-*-dev it needs, recursively
# (one apt-cache call).
mapfile -t godev < <(printf '%s\n' "${want[@]}" | grep -xF golang-github-containerd-ttrpc-dev || true)
mapfile -t closure < <(
  { printf '%s\n' "${want[@]}"
    [ ${#godev[@]} -eq 0 ] || apt-cache "${apt[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "${godev[@]}" 2>/dev/null \
      | sed -nE 's/^ *(Pre)?Depends: ([a-z0-9.+-]+)$/\2/p; s/^(golang-[a-z0-9.+-]+-dev)$/\1/p' \
      | grep -E '^golang-.*-dev$'
  } | sort -u)
# Virtual or missing names have no candidate: skip them, one download each so one miss costs nothing. A
# package already downloaded (an earlier, smaller set) is not fetched again.
(cd "$top/debs" && for p in "${closure[@]}"; do
  compgen -G "${p}_*.deb" >/dev/null && continue
  apt-get "${apt[@]}" download "$p" >/dev/null 2>&1 || echo "fetch-trixie: skipped $p"
done)
for p in "${closure[@]}"; do for d in "$top/debs/${p}"_*.deb; do [ -f "$d" ] && dpkg -x "$d" "$top/root"; done; done
touch "$stamp"
echo "fetch-trixie: $(ls "$top/debs" | wc -l) packages extracted under build/trixie/root"
