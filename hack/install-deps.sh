#!/usr/bin/env bash
# Installs everything the build, the tests, the benchmarks and the demo need on a fresh Debian 12
# (run as root). Idempotent: a stamp keyed on this script's content skips the apt work when nothing
# changed. Packages from trixie (containerd 1.7, Go 1.24, ttrpc 1.2) are never installed system-wide:
# hack/fetch-trixie.sh downloads and extracts them under build/trixie/.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build: NativeAOT links with clang; protoc comes with Grpc.Tools
  clang lld zlib1g-dev make git
  # the VM: QEMU (TCG here, KVM where /dev/kvm works), guest kernel tools, initramfs tools
  qemu-system-x86 qemu-utils cpio zstd xz-utils kmod busybox-static python3 binutils
  # deploy/ manifests are parsed in a test (DeployManifestTests)
  python3-yaml
  # containers: the real peers of the tests
  containerd runc crun umoci skopeo
  # CNI for the CRI tier (hack/containerd/start.sh --cri copies bridge, host-local, loopback from /usr/lib/cni)
  containernetworking-plugins
  # the Go ttrpc reference peer (bookworm: ttrpc 1.1 with Go 1.19)
  golang-go golang-github-containerd-ttrpc-dev golang-github-gogo-protobuf-dev golang-google-grpc-dev
  # (golang-github-gogo-protobuf-dev also gives integration/Cc.Integration.Cri the gogo.proto that the CRI api.proto imports)
  # tooling used by tests and benchmarks
  socat procps psmisc iproute2 util-linux ca-certificates curl
  # the shim's port-forward NAT rule in each pod's netns (docs/networking.md, "Port forwarding"); the CRI tier reads it
  iptables
  # make fuzz: coverage-guided fuzzing of the parsers (SharpFuzz drives AFL++)
  afl++
)

stamp=/var/lib/cc-shim-deps.$(sha256sum "$0" | cut -c1-16)
if [ ! -f "$stamp" ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "install-deps: run as root (apt-get install)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  touch "$stamp"
  echo "install-deps: apt packages installed"
fi

# containerd's own service must not hold /run/containerd: tests and the demo run private instances.
if command -v systemctl >/dev/null && systemctl is-active --quiet containerd 2>/dev/null; then
  systemctl stop containerd || true
fi

if [ -x hack/fetch-trixie.sh ]; then bash hack/fetch-trixie.sh; fi
if ! command -v dotnet >/dev/null; then
  echo "install-deps: the .NET SDK (see global.json) must be on PATH" >&2; exit 1
fi
