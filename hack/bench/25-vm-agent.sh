#!/usr/bin/env bash
# VM benchmark part of `make bench`: QEMU start → agent ready (first answered Check) and → first stdout
# byte of an `echo hello` container (busybox rootfs over 9p), side by side with the bare floor
# (build/guest/floor.cpio booting to CC-FLOOR-READY), as ratios; both through the QEMU driver with the
# same config but the initramfs. Needs `make build guest`. Publishes Cc.Bench as NativeAOT (a Release
# JIT build if that fails) and runs `Cc.Bench vm`; options are passed through (e.g. --runs 9).
# About 10 s per round under TCG on an idle 2-core machine, 5 rounds by default, plus the build.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
out=build/bench
mkdir -p "$out"
for f in vmlinux initramfs.cpio floor.cpio kernel-version; do
  [ -f "build/guest/$f" ] || { echo "25-vm-agent: build/guest/$f is missing: run 'make build guest'" >&2; exit 1; }
done

bin="" kind=""
if timeout 600 dotnet publish integration/Cc.Bench/Cc.Bench.csproj -c Release -r linux-x64 --nologo -v quiet \
     -p:PublishAot=true -o "$out/cc-bench-vm-aot" >&2; then
  bin=$out/cc-bench-vm-aot/Cc.Bench kind="NativeAOT"
else
  echo "25-vm-agent: NativeAOT publish failed; running a Release JIT build instead" >&2
  timeout 600 dotnet publish integration/Cc.Bench/Cc.Bench.csproj -c Release --nologo -v quiet \
    -p:PublishAot=false -o "$out/cc-bench-vm-jit" >&2
  bin=$out/cc-bench-vm-jit/Cc.Bench kind="JIT"
fi

# The bench stops and disposes every VM it starts, also on SIGTERM; the timeout bounds a hung boot
# beyond its own per-run bound (120 s).
timeout 900 "$bin" vm --out "$out/vm-agent.md" "$@"
echo
echo "Host side: Cc.Bench ($kind) with Cc.Hypervisor at $(git log -1 --format=%h -- src/Cc.Hypervisor 2>/dev/null || echo '?'); guest agent sha256 $(awk '$1 == "agent" { print substr($2, 1, 12) }' build/guest/manifest.txt 2>/dev/null), $(awk '$1 == "crun" { print $2, $4 }' build/guest/manifest.txt 2>/dev/null); $(qemu-system-x86_64 --version | head -1)."
