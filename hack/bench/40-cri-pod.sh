#!/usr/bin/env bash
# CRI benchmark part of `make bench`: pod start as kubelet sees it — RunPodSandbox (+ PodSandboxStatus), CreateContainer,
# StartContainer, until the first byte of the container's output in its CRI log file — handler `cc` (one VM per pod) vs
# `runc`, 1 pod alone and 4 pods at once, on one private CRI containerd (hack/containerd/start.sh --cri), one table
# with ratios. Needs `make build guest` (and the images: hack/images/build.sh, which start.sh --cri imports).
# Runs `Cc.Bench cri-pod` (integration/Cc.Bench/Cri, the CRI tier's client); options are passed through
# (e.g. --runs 5 --pods 4 --containerd 1.6). About 4 minutes under TCG on a 2-core machine with the defaults.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=build/bench
mkdir -p "$out"
for f in build/bin/containerd-shim-cc-v2 build/guest/vmlinux build/guest/initramfs.cpio build/configuration.toml; do
  [ -e "$f" ] || { echo "40-cri-pod: $f is missing: run 'make build guest'" >&2; exit 1; }
done
bash hack/images/build.sh >&2

# A JIT build: what is measured is containerd, the shims and the VMs; the client only sends a few calls per pod
# and polls a log file, and its start-up is over before the first pod is timed.
timeout 600 dotnet publish integration/Cc.Bench/Cc.Bench.csproj -c Release --nologo -v quiet \
  -p:PublishAot=false -o "$out/cc-bench-cri" >&2

# The bench stops and removes every pod it starts and its containerd (hack/containerd/stop.sh), also on SIGTERM;
# the timeout bounds the whole part beyond its per-pod bound (180 s to first output).
timeout 1500 "$out/cc-bench-cri/Cc.Bench" cri-pod --out "$out/cri-pod.md" "$@"
echo
echo "Shim at $(git log -1 --format=%h -- src 2>/dev/null || echo '?')$(git diff --quiet -- src 2>/dev/null || echo ' + uncommitted changes'); guest agent sha256 $(awk '$1 == "agent" { print substr($2, 1, 12) }' build/guest/manifest.txt 2>/dev/null); $(qemu-system-x86_64 --version | head -1); runc $(runc --version 2>/dev/null | awk 'NR == 1 { print $3 }')."
