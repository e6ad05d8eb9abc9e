#!/usr/bin/env bash
# make demo: runs one container through containerd, first with runc (on the host kernel), then with
# our runtime io.containerd.cc.v2 (in its own QEMU VM, on the guest kernel), and shows the difference.
# Runs after `make deps build guest`. Uses a PRIVATE containerd (hack/containerd/start.sh), never the
# system's. Every step says what it does; the first failing step is named and the script exits
# non-zero: the demo never reports success it did not see.
#   DEMO_CONTAINERD=1.7 make demo    to use trixie's containerd 1.7 instead of Debian's 1.6
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
version=${DEMO_CONTAINERD:-1.6}
shim=$repo/build/bin/containerd-shim-cc-v2
guest_kernel_file=$repo/build/guest/kernel-version
cc_config=$repo/build/configuration.toml
dir=
step_no=0 step_name=
log_mark=0 # containerd.log size when the current step began: a failure shows only what it caused

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
since() { local ms=$(( $(now_ms) - $1 )); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }
step() {
  step_no=$((step_no + 1)) step_name=$1
  [ -z "$dir" ] || log_mark=$(stat -c %s "$dir/containerd.log" 2>/dev/null || echo 0)
  printf '\n[%d] %s\n' "$step_no" "$1"
}
fail() {
  printf '\ndemo: FAILED at step %d (%s):\n%s\n' "$step_no" "$step_name" "$1" >&2
  if [ -n "$dir" ] && [ -f "$dir/containerd.log" ]; then
    echo "--- containerd's log since this step began ($dir/containerd.log) ---" >&2
    tail -c +$((log_mark + 1)) "$dir/containerd.log" | tail -n 20 >&2
  fi
  exit 1
}
cleanup() {
  [ -n "$dir" ] || return 0
  bash hack/containerd/stop.sh "$dir" || echo "demo: clean-up of $dir was incomplete" >&2
}
trap cleanup EXIT
ctr() { bash hack/containerd/ctr.sh "$dir" -n demo "$@"; }

step "check what the demo needs"
[ -x "$shim" ] || fail "$shim is missing: run \`make build\` (the shim is src/containerd-shim-cc-v2)."
[ -f "$guest_kernel_file" ] || fail "$guest_kernel_file is missing: run \`make guest\` (hack/build-guest.sh)."
guest_kernel=$(cat "$guest_kernel_file")
host_kernel=$(uname -r)
echo "    shim: $shim ($(stat -c %s "$shim") bytes); guest kernel: $guest_kernel; host kernel: $host_kernel"
cc_options=(--runtime io.containerd.cc.v2)
if [ -f "$cc_config" ]; then
  cc_options+=(--runtime-config-path "$cc_config")
  echo "    runtime options: ConfigPath=$cc_config"
else
  echo "    runtime options: none ($cc_config does not exist; the shim uses its defaults)"
fi

step "build the test image (busybox, local, no registry)"
bash hack/images/build.sh busybox >/dev/null || fail "hack/images/build.sh failed (run it to see why)."
# shellcheck disable=SC1091
. build/images/images.env

step "start a private containerd $version (PATH begins with build/bin, so it finds containerd-shim-cc-v2)"
dir=$(bash hack/containerd/start.sh --version "$version") || fail "hack/containerd/start.sh --version $version failed (see above)."
echo "    $dir (config.toml, containerd.log, sockets; removed at the end)"

step "import $BUSYBOX_IMAGE"
out=$(ctr images import --base-name "$BUSYBOX_BASE" "$BUSYBOX_TAR" 2>&1) || fail "$out"

# The leading sleep: ctr opens its stdout FIFO asynchronously and drops the output of a process that
# exits before that open happened, which a loaded host can delay past a whole runc start.
script='sleep 1; echo "Hello from inside a container!"; echo "kernel: $(uname -r)"'

step "run it with runc, the default runtime: a process on the host kernel"
start=$(now_ms)
out=$(timeout 60 bash hack/containerd/ctr.sh "$dir" -n demo run --rm --runtime io.containerd.runc.v2 \
  "$BUSYBOX_IMAGE" demo-runc sh -c "$script" 2>&1) || fail "ctr run with runc failed (the host cannot run containers?):
$out"
sed 's/^/    | /' <<<"$out"
echo "    ($(since "$start"))"

# QEMUs of this demo: they inherit the TTRPC_ADDRESS containerd gives our shim, or name the task.
# (Other QEMUs on the machine, e.g. a benchmark, are not counted.)
qemu_pids() {
  local p
  for p in $(pgrep '^qemu-system'); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qxF "TTRPC_ADDRESS=$dir/containerd.sock.ttrpc" \
       || tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF demo-cc; then echo "$p"; fi
  done | sort
}
qemu_before=$(qemu_pids)

step "run it with io.containerd.cc.v2: the same image, in its own QEMU virtual machine"
start=$(now_ms)
out=$(timeout 300 bash hack/containerd/ctr.sh "$dir" -n demo run --rm "${cc_options[@]}" \
  "$BUSYBOX_IMAGE" demo-cc sh -c "$script" 2>&1)
rc=$?
[ "$rc" -eq 0 ] || fail "ctr run --runtime io.containerd.cc.v2 exited with $rc:
$out"
sed 's/^/    | /' <<<"$out"
echo "    ($(since "$start"), including the VM boot; QEMU runs under TCG when there is no KVM)"

step "check: the container saw the guest kernel, not the host's"
seen=$(sed -n 's/^kernel: //p' <<<"$out" | tr -d '\r')
grep -q 'Hello from inside a container!' <<<"$out" || fail "the greeting is missing from the output."
[ -n "$seen" ] || fail "no 'kernel: …' line in the output."
if [ "$seen" = "$host_kernel" ] && [ "$seen" != "$guest_kernel" ]; then
  fail "the container reported the HOST kernel $host_kernel: it did not run in a VM."
fi
[ "$seen" = "$guest_kernel" ] || fail "the container reported kernel '$seen', expected the guest kernel '$guest_kernel' (build/guest/kernel-version)."

step "check: the VM and the shim are gone"
left=
for _ in $(seq 1 40); do
  new_qemu=$(comm -13 <(echo "$qemu_before") <(qemu_pids) | tr '\n' ' ')
  shims=$(pgrep -f -- "containerd-shim-cc-v2 .*-address $dir/containerd.sock" | tr '\n' ' ')
  left="$new_qemu$shims"
  [ -n "${left// /}" ] || break
  sleep 0.5
done
[ -z "${left// /}" ] || fail "still running 20 s after the container ended: QEMU pids [${new_qemu}] shim pids [${shims}]"
echo "    no QEMU and no containerd-shim-cc-v2 process left"

cat <<EOF

    host kernel (runc, and this machine):         $host_kernel
    kernel inside the io.containerd.cc.v2 container: $seen  (= build/guest/kernel-version)

    runc starts the container as a process of the host: it shares the host's kernel.
    containerd-shim-cc-v2 started a QEMU virtual machine with our guest kernel and agent for this
    one container and ran the process in it, so even a kernel exploit stays inside the VM.

demo: OK (containerd $version)
EOF
