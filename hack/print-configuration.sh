#!/usr/bin/env bash
# Prints the shim's configuration.toml on stdout: the one printer behind build/configuration.toml
# (hack/write-configuration.sh, make build) and the installed defaults file (hack/install.sh, deploy/Dockerfile).
# Keys and defaults: docs/configuration.md.
#   print-configuration.sh QEMU GUEST_DIR HEADER
# QEMU: the hypervisor's path; GUEST_DIR: the directory of vmlinux and initramfs.cpio; HEADER: the file's leading
# comment (lines without the "# "). CC_RUN_DIR overrides run_dir (default /run/cc).
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 QEMU GUEST_DIR HEADER" >&2
  exit 2
fi
qemu=$1 guest=$2 header=$3
sed 's/^/# /' <<<"$header"
cat <<TOML
[hypervisor]
path = "$qemu"
kernel = "$guest/vmlinux"
initrd = "$guest/initramfs.cpio"
memory_mib = 512
vcpus = 1
machine = "q35"
accel = "auto"

[agent]
log_level = "info"

[runtime]
run_dir = "${CC_RUN_DIR:-/run/cc}"
# What \`start\` prints: 2 = the plain address (containerd 1.6, 1.7 and 2.x); 3 = the JSON form with Task v3, for
# deployments that run containerd 2.x only (1.6 and 1.7 cannot read it).
bootstrap_version = 2
TOML
