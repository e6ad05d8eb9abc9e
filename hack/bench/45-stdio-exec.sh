#!/usr/bin/env bash
# Stdio and exec benchmark part of `make bench` (issue 10): one private containerd with both runtimes, runs
# interleaved (runc, ours, runc, ours, ...), median and spread:
# - stdio throughput: `ctr run --rm <busybox> sh -c 'dd if=/dev/zero bs=1M count=256; sleep 2'` (dd, not
#   `head -c`: busybox's head spends ~8.7 s of guest user CPU per 64 MiB under TCG, which would measure the generator,
#   not the stdio path; the pause keeps the
#   container alive while ctr drains its FIFO: under load, containerd 1.6's ctr lost the tail of the output of a
#   container that exited at once, with either runtime), the container's stdout read by ctr (the
#   FIFO path containerd's cio uses; not the CRI log path) and piped into hack/bench/stdio-sink.py, which times it
#   from the first byte to the last (a VM's boot and a runtime's tear-down are off the clock) and checks that every
#   byte arrived unchanged: the byte count and the SHA-256 against those of 256 MiB of zeros. MB = 10^6 bytes. It
#   also reads the CPU time the runtime's processes used over that span (the shim's; for ours also QEMU's, which is
#   the guest's): on a loaded machine the wall time measures the scheduler, the CPU time does not.
# - stdio through the CRI log (BENCH_STDIO_CRI=1, default): `Cc.Bench cri-stdio` on its own CRI containerd, a CRI
#   container's `dd` of the same bytes timed from StartContainer until its CRI log file holds all of them (the path
#   kubelet reads; not capped by ctr's FIFO copy), length and SHA-256 of the stream rebuilt from the log checked.
# - exec latency: `ctr task exec` of /bin/true into a running `sleep` container, BENCH_EXEC_N times per runtime
#   (after one warm-up exec), wall time of the whole ctr call; median and p90 (nearest rank); and the CPU time the
#   container's shim and its descendants (ours: QEMU, i.e. the guest) used over each call, median.
# Prints a markdown table with ratios on stdout (progress on stderr); needs `make build guest`.
#   BENCH_STDIO_RUNS=3  BENCH_STDIO_MIB=256  BENCH_EXEC_N=20  BENCH_CONTAINERD=1.6|1.7  BENCH_STDIO_CRI=1|0
# - the floor (BENCH_STDIO_FLOOR=1, default): the same bytes through a bare virtio-serial port, the channel our agent
#   talks over, with no agent: build/guest/floor.cpio with an /init that loads the same modules and then runs
#   `dd if=/dev/zero bs=1M` into the port; QEMU is started directly as 20-vm-floor.sh does (same kernel, q35, qboot,
#   one vCPU) and the sink reads the port's host end, a unix socket. What ours cannot beat under TCG on this machine.
# - exec in clones (BENCH_EXEC_TEMPLATE=1; default 0, cold pods): the exec containers of ours (and of the baseline) run
#   in pods cloned from a template (docs/templates.md): each gets a configuration copy with [factory] template = true
#   and a template directory of its own in tmpfs (made by that label's `factory init` before the containers, off the
#   clock, removed at the end); what each container's pod actually started from (its vm-origin) is printed under the
#   table, so a template failure (a cold boot) cannot pass for a clone. Keys of [factory] already in the configuration
#   (clone_tcg_tb_size_mib, for a config-only baseline) stay. BENCH_STDIO_RUNS=0 BENCH_STDIO_CRI=0
#   BENCH_STDIO_FLOOR=0 leaves the exec part alone.
#   BENCH_BASELINE=DIR  adds a column "ours, baseline": DIR/bin/containerd-shim-cc-v2 with DIR/configuration.toml
#                       (e.g. a copy of build/bin, build/guest and the configuration made from an earlier commit,
#                       its guest paths pointing into DIR), so that before and after are measured in one run.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
# shellcheck source=hack/bench/lib.sh
. hack/bench/lib.sh
runs=${BENCH_STDIO_RUNS:-3}
mib=${BENCH_STDIO_MIB:-256}
exec_n=${BENCH_EXEC_N:-20}
version=${BENCH_CONTAINERD:-1.6}
baseline=${BENCH_BASELINE:-}
bytes=$((mib * 1024 * 1024))
floor=${BENCH_STDIO_FLOOR:-1}
exec_template=${BENCH_EXEC_TEMPLATE:-0}
tpl_root=
scratch=$(mktemp -d /tmp/cc-bench-stdio.XXXXXX)
notes=()
log() { echo "45-stdio-exec: $*" >&2; }
cleanup() {
  bench_containerd_down
  [ -z "${floor_qemu:-}" ] || kill -KILL "$floor_qemu" 2>/dev/null
  [ -z "$tpl_root" ] || rm -rf "$tpl_root"
  rm -rf "$scratch"
}
trap cleanup EXIT
now_ns() { date +%s%N; }
# Nearest-rank percentile of the numbers on stdin: pct P.
pct() { sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print ""; exit } k = int((p * NR + 99) / 100); if (k < 1) k = 1; print v[k] }'; }
range() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s–%s", lo, hi }'; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2f×", a / b }' || echo "n/a"; }

for f in build/bin/containerd-shim-cc-v2 build/guest/vmlinux build/guest/initramfs.cpio build/configuration.toml; do
  [ -e "$f" ] || { log "$f is missing: run 'make build guest'"; exit 1; }
done
bench_containerd_up bench
expected_sha=$(head -c "$bytes" /dev/zero | sha256sum | cut -d' ' -f1)
# The runtime's processes while a stdio run is under way (only one runs at a time): every shim of this containerd,
# found by the -address containerd passed it, and our QEMU, by the TTRPC_ADDRESS it inherited from our shim.
cat >"$scratch/pids.sh" <<PIDS
for p in /proc/[0-9]*; do
  case "\$(readlink "\$p/exe" 2>/dev/null)" in
    */containerd-shim-*) tr '\\0' ' ' <"\$p/cmdline" 2>/dev/null | grep -qF -- "-address $address " && echo "\${p#/proc/}" ;;
    */qemu-system-*) tr '\\0' '\\n' <"\$p/environ" 2>/dev/null | grep -qxF "TTRPC_ADDRESS=$address.ttrpc" && echo "\${p#/proc/}" ;;
  esac
done
PIDS

# The runtimes measured, by label; containerd 1.6+ takes an absolute shim path as --runtime.
labels=(runc ours)
declare -A opts=([runc]="--runtime io.containerd.runc.v2"
  [ours]="--runtime io.containerd.cc.v2 --runtime-config-path $repo/build/configuration.toml")
if [ -n "$baseline" ]; then
  [ -x "$baseline/bin/containerd-shim-cc-v2" ] && [ -f "$baseline/configuration.toml" ] \
    || { log "BENCH_BASELINE=$baseline lacks bin/containerd-shim-cc-v2 or configuration.toml"; exit 1; }
  labels+=(baseline)
  opts[baseline]="--runtime $baseline/bin/containerd-shim-cc-v2 --runtime-config-path $baseline/configuration.toml"
fi

# --- the floor's guest: floor.cpio with a second archive whose /init replaces floor.cpio's (the kernel unpacks
# concatenated archives in order, later files winning) ---
if [ "$floor" = 1 ]; then
  mkdir -p "$scratch/root"
  cat >"$scratch/root/init" <<INIT
#!/bin/busybox sh
# The stdio floor: the bytes of one bench run straight into a virtio-serial port, then power off.
bb=/bin/busybox
\$bb mount -t proc proc /proc
\$bb mount -t sysfs sysfs /sys
\$bb mount -t devtmpfs devtmpfs /dev
while read -r m; do \$bb insmod "/lib/modules/cc/\$m.ko" 2>/dev/null; done < /etc/cc/modules
for p in /sys/class/virtio-ports/*; do [ "\$(\$bb cat \$p/name)" = cc.floor ] && port=/dev/\${p##*/}; done
\$bb dd if=/dev/zero of=\$port bs=1048576 count=$mib 2>/dev/null
echo CC-STDIO-FLOOR-DONE
\$bb sleep 2
\$bb poweroff -f
INIT
  chmod 755 "$scratch/root/init"
  (cd "$scratch/root" && echo init | cpio -o -H newc --quiet) | cat build/guest/floor.cpio - >"$scratch/floor.cpio"
  labels+=(floor)
fi
# floor_run: one boot of the floor guest; the sink's line goes to $scratch/floor.out.
floor_run() {
  local sock=$scratch/floor.sock
  rm -f "$sock"
  qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot -m 256 -accel tcg,tb-size=64 \
    -machine q35 -bios /usr/share/qemu/qboot.rom -kernel build/guest/vmlinux -initrd "$scratch/floor.cpio" \
    -append "console=ttyS0 reboot=k panic=-1 quiet mitigations=off tsc=reliable no_timer_check i8042.noaux i8042.nopnp 8250.nr_uarts=1 cryptomgr.notests rdinit=/init" \
    -serial "file:$scratch/floor-console.log" \
    -device virtio-serial-pci,id=floor-serial -chardev "socket,id=floor,path=$sock,server=on,wait=off" \
    -device virtserialport,bus=floor-serial.0,chardev=floor,name=cc.floor >>"$scratch/floor-qemu.log" 2>&1 &
  floor_qemu=$!
  timeout 900 python3 hack/bench/stdio-sink.py --connect "$sock" --cpu-pids "echo $floor_qemu" >"$scratch/floor.out"
  # The guest powers off after its write; the sink's end of file is QEMU's exit.
  timeout 60 tail --pid="$floor_qemu" -f /dev/null || kill -KILL "$floor_qemu" 2>/dev/null
  wait "$floor_qemu" 2>/dev/null
  floor_qemu=
}

# --- stdio: one `ctr run --rm` per runtime per round ---
declare -A rates=() cpus=() stdio_fail=()
# record <label> <round>: the sink's line in got/first/last/sha/cpu -> rates and cpus, or a note.
record() {
  if [ "${got:-0}" = "$bytes" ] && [ "$sha" = "$expected_sha" ] && [ "$last" -gt "$first" ]; then
    rates[$1]+="$(awk -v b="$bytes" -v ns=$((last - first)) 'BEGIN { printf "%.1f", b / (ns / 1e9) / 1e6 }') "
    [ "${cpu:--}" = - ] || cpus[$1]+="$cpu "
    log "  $1: $(awk -v b="$bytes" -v ns=$((last - first)) 'BEGIN { printf "%.1f MB/s", b / (ns / 1e9) / 1e6 }'), CPU ${cpu:--} s"
  else
    stdio_fail[$1]=$((${stdio_fail[$1]:-0} + 1))
    notes+=("stdio $1 round $2: got ${got:-0} of $bytes bytes, sha256 ${sha:-none} (expected $expected_sha); $3")
  fi
}
for i in $(seq 1 "$runs"); do
  for l in "${labels[@]}"; do
    if [ "$l" = floor ]; then
      log "stdio round $i/$runs: the virtio-serial floor, $mib MiB"
      floor_run
      read -r got first last sha cpu <"$scratch/floor.out"
      record "$l" "$i" "console: $(tail -n 2 "$scratch/floor-console.log" 2>/dev/null | tr '\n' ' ' | cut -c1-200)"
      continue
    fi
    log "stdio round $i/$runs: $l, $mib MiB"
    # shellcheck disable=SC2086
    out=$(timeout 900 bash hack/containerd/ctr.sh "$dir" -n bench run --rm ${opts[$l]} "$BUSYBOX_IMAGE" "s-$l-$i" \
      sh -c "dd if=/dev/zero bs=1048576 count=$mib 2>/dev/null; sleep 2" 2>"$dir/stdio-$l.err" | python3 hack/bench/stdio-sink.py --cpu-pids "bash $scratch/pids.sh")
    read -r got first last sha cpu <<<"$out"
    record "$l" "$i" "$(tail -n 2 "$dir/stdio-$l.err" | tr '\n' ' ' | cut -c1-200)"
  done
done

# --- stdio through the CRI log path (BENCH_STDIO_CRI=1, default): what kubelet reads, not capped by ctr's FIFO copy.
# Cc.Bench cri-stdio (integration/Cc.Bench/Cri) starts its own CRI containerd, makes a pod and a container per handler
# and run (pod start off the clock), then times StartContainer until the container's CRI log holds every byte of its
# `dd` and checks the rebuilt stream's length and SHA-256; its lines go through record() like the sink's.
declare -A ccpus=()
if [ "${BENCH_STDIO_CRI:-1}" = 1 ] && [ "$runs" -gt 0 ]; then
  log "stdio through the CRI log: publishing Cc.Bench"
  if timeout 600 dotnet publish integration/Cc.Bench/Cc.Bench.csproj -c Release --nologo -v quiet -p:PublishAot=false \
      -o build/bench/cc-bench-cri >&2; then
    cri_args=(--mib "$mib" --runs "$runs" --containerd "$version")
    [ -z "$baseline" ] || cri_args+=(--baseline "$baseline")
    timeout 3600 build/bench/cc-bench-cri/Cc.Bench cri-stdio "${cri_args[@]}" >"$scratch/cri.out" || true
    while read -r handler round got first last sha cpu ccpu; do
      case $handler in runc) l=cri-runc ;; cc) l=cri-ours ;; ccbase) l=cri-baseline ;; *) continue ;; esac
      [ "$got" != failed ] || { got=0 sha=; }
      record "$l" "$round" "CRI log path, see cri-stdio's stderr"
      [ "$got" != "$bytes" ] || ccpus[$l]+="$ccpu "
    done <"$scratch/cri.out"
  else
    notes+=("stdio through the CRI log: Cc.Bench did not build")
  fi
fi

# --- exec: one long-running container per runtime, then interleaved execs ---
declare -A lat=() exec_fail=() exec_opts=() origin=()
[ "$floor" = 1 ] && exec_fail[floor]=start
for l in "${labels[@]}"; do exec_opts[$l]=${opts[$l]:-}; done
# exec_template_config <label> <shim> <config>: the label's template configuration, its template made; the path in
# tpl_config (not printed: a subshell would lose the note of a failed init).
exec_template_config() {
  local l=$1 shim=$2 config=$3 out tpl=$tpl_root/$1
  if grep -q '^\[factory\]' "$config"; then
    # The keys go right under the existing header, so they land in that table wherever the file puts it.
    sed "s|^\[factory\]$|[factory]\ntemplate = true\ndirectory = \"$tpl/t\"|" "$config" >"$tpl.toml"
  else
    { cat "$config"; printf '\n[factory]\ntemplate = true\ndirectory = "%s"\n' "$tpl/t"; } >"$tpl.toml"
  fi
  log "exec: factory init for $l (a cold boot and a save; not timed)"
  out=$(timeout 900 "$shim" factory init --config "$tpl.toml" 2>&1) \
    || { notes+=("exec $l: factory init failed, its pod boots cold: $(tail -n 2 <<<"$out" | tr '\n' ' ' | cut -c1-200)"); }
  tpl_config=$tpl.toml
}
# vm_origin <config> <id>: cold, template <key>, or ? (the shim's <run_dir>/<namespace>/<id>/vm-origin).
vm_origin() {
  cat "$(bench_run_dir "$1")/bench/$2/vm-origin" 2>/dev/null || echo "?"
}
if [ "$exec_template" = 1 ]; then
  tpl_root=$(bench_run_dir build/configuration.toml)-bench-exec-templates-$$
  mkdir -p "$tpl_root"
  exec_template_config ours "$repo/build/bin/containerd-shim-cc-v2" "$repo/build/configuration.toml"
  exec_opts[ours]="--runtime io.containerd.cc.v2 --runtime-config-path $tpl_config"
  if [ -n "$baseline" ]; then
    exec_template_config baseline "$baseline/bin/containerd-shim-cc-v2" "$baseline/configuration.toml"
    exec_opts[baseline]="--runtime $baseline/bin/containerd-shim-cc-v2 --runtime-config-path $tpl_config"
  fi
fi
for l in "${labels[@]}"; do
  [ "$l" != floor ] || continue
  # shellcheck disable=SC2086
  if ! timeout 600 bash hack/containerd/ctr.sh "$dir" -n bench run -d ${exec_opts[$l]} "$BUSYBOX_IMAGE" "e-$l" sleep 3600 >/dev/null 2>"$dir/exec-$l.err"; then
    notes+=("exec $l: the container did not start: $(tail -n 2 "$dir/exec-$l.err" | tr '\n' ' ' | cut -c1-200)")
    exec_fail[$l]=start
    continue
  fi
  cfg=$(sed -n 's/.*--runtime-config-path \([^ ]*\).*/\1/p' <<<"${exec_opts[$l]}")
  [ -z "$cfg" ] || origin[$l]=$(vm_origin "$cfg" "e-$l")
  timeout 300 bash hack/containerd/ctr.sh "$dir" -n bench task exec --exec-id warm "e-$l" /bin/true >/dev/null 2>&1 \
    || notes+=("exec $l: the warm-up exec failed")
done
# pod_cpu_ms <id>: CPU ms (user + system, with reaped children: runc, crun's host side) used so far by the shim of
# container <id> (found by the -id containerd passed it) and all of its descendants (our QEMU, whose CPU is the
# guest's: crun, the agent, the kernel). Read before and after each exec: at these loads the wall time measures the
# scheduler, the CPU time does not (10 ms ticks; an idle pod's own ticks are in it too).
pod_cpu_ms() {
  python3 - "$1" <<'PY'
import os, sys
stats, kids, root = {}, {}, None
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{p}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        continue
    stats[p] = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    kids.setdefault(fields[1], []).append(p)
    if b"-id" in argv and argv.index(b"-id") + 1 < len(argv) and argv[argv.index(b"-id") + 1] == sys.argv[1].encode() \
            and os.path.basename(argv[0]).startswith(b"containerd-shim"):
        root = p
todo, total = ([root] if root else []), 0
while todo:
    p = todo.pop()
    total += stats.get(p, 0)
    todo += kids.get(p, [])
print(total * 1000 // os.sysconf("SC_CLK_TCK"))
PY
}
declare -A cpu_ms=()
log "exec: $exec_n rounds of ctr task exec /bin/true"
for i in $(seq 1 "$exec_n"); do
  for l in "${labels[@]}"; do
    [ "${exec_fail[$l]:-}" != start ] || continue
    before=$(pod_cpu_ms "e-$l")
    start=$(now_ns)
    if timeout 300 bash hack/containerd/ctr.sh "$dir" -n bench task exec --exec-id "x$i" "e-$l" /bin/true >/dev/null 2>"$dir/exec-$l.err"; then
      lat[$l]+="$((($(now_ns) - start) / 1000000)) "
      cpu_ms[$l]+="$(($(pod_cpu_ms "e-$l") - before)) "
    else
      [ -n "${exec_fail[$l]:-}" ] || notes+=("exec $l round $i failed (the first failure of $l): $(tail -n 2 "$dir/exec-$l.err" | tr '\n' ' ' | cut -c1-200)")
      exec_fail[$l]=$((${exec_fail[$l]:-0} + 1))
    fi
  done
done
for l in "${labels[@]}"; do
  [ "$l" != floor ] || continue
  timeout 60 bash hack/containerd/ctr.sh "$dir" -n bench task kill -s SIGKILL "e-$l" >/dev/null 2>&1
done

median_of() { tr ' ' '\n' <<<"$1" | grep . | pct 50; }
# Each prints its fields with "-" for an empty one, so that `read` keeps them in place.
row_stdio() { # label
  local r=${rates[$1]:-} m g
  m=$(median_of "$r") g=$(tr ' ' '\n' <<<"$r" | grep . | range)
  echo "${m:--} ${g:--} $(tr ' ' '\n' <<<"$r" | grep -c .)"
}
row_exec() {
  local v=${lat[$1]:-} m p g
  m=$(median_of "$v") p=$(tr ' ' '\n' <<<"$v" | grep . | pct 90) g=$(tr ' ' '\n' <<<"$v" | grep . | range)
  echo "${m:--} ${p:--} ${g:--} $(tr ' ' '\n' <<<"$v" | grep -c .)"
}
echo
echo "### Stdio and exec — containerd $version, $(date -u +%Y-%m-%d\ %H:%M) UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| Measure | $(for l in "${labels[@]}"; do printf '%s | ' "$l"; done)ours ÷ runc$([ -n "$baseline" ] && echo ' | ours ÷ baseline') |"
echo "|---|$(for _ in "${labels[@]}"; do printf -- '---:|'; done)---:|$([ -n "$baseline" ] && printf -- '---:|')"
declare -A sm=() sr=() sc=() em=() ep=() er=() ec=() cm=()
for l in "${labels[@]}"; do
  cm[$l]=$(median_of "${cpus[$l]:-}"); cm[$l]=${cm[$l]:--}
  read -r "sm[$l]" "sr[$l]" "sc[$l]" <<<"$(row_stdio "$l")"
  read -r "em[$l]" "ep[$l]" "er[$l]" "ec[$l]" <<<"$(row_exec "$l")"
done
cells() { local l; for l in "${labels[@]}"; do printf '%s | ' "$($1 "$l")"; done; }
c_rate() { [ "${sm[$1]}" = - ] && echo "n/a (${sc[$1]}/$runs ok)" || echo "${sm[$1]} (${sr[$1]}, ${sc[$1]}/$runs ok)"; }
c_med() { [ "$1" = floor ] && echo "–" && return; [ "${em[$1]}" = - ] && echo "n/a (${ec[$1]}/$exec_n ok)" || echo "${em[$1]} (${er[$1]}, ${ec[$1]}/$exec_n ok)"; }
c_p90() { [ "$1" = floor ] && echo "–" || echo "${ep[$1]/#-/n/a}"; }
c_cpu() { echo "${cm[$1]/#-/n/a}"; }
# ratio of two fields that may be "-"
r() { [ "${1:--}" = - ] || [ "${2:--}" = - ] && echo "n/a" || ratio "$1" "$2"; }
b() { [ -n "$baseline" ] && echo " | $(r "$1" "$2")"; }
if [ "$runs" -gt 0 ]; then
  echo "| stdio: $mib MiB through stdout, first byte → last, MB/s: median (range, runs ok) | $(cells c_rate)$(r "${sm[ours]}" "${sm[runc]}")$(b "${sm[ours]}" "${sm[baseline]:--}") |"
  echo "| stdio: CPU s of the runtime's processes over that span (shim; ours: shim + QEMU): median | $(cells c_cpu)$(r "${cm[ours]}" "${cm[runc]}")$(b "${cm[ours]}" "${cm[baseline]:--}") |"
fi
if [ "${BENCH_STDIO_CRI:-1}" = 1 ] && [ "$runs" -gt 0 ]; then
  declare -A csm=() csr=() csc=() ccm=() cdm=()
  for l in cri-runc cri-ours cri-baseline; do
    read -r "csm[$l]" "csr[$l]" "csc[$l]" <<<"$(row_stdio "$l")"
    ccm[$l]=$(median_of "${cpus[$l]:-}"); ccm[$l]=${ccm[$l]:--}
    cdm[$l]=$(median_of "${ccpus[$l]:-}"); cdm[$l]=${cdm[$l]:--}
  done
  cri_cell() { # field-array-name label
    local -n a=$1; local l=cri-$2
    [ "$2" = floor ] && echo "–" && return
    case $1 in
      csm) [ "${csm[$l]}" = - ] && echo "n/a (${csc[$l]}/$runs ok)" || echo "${csm[$l]} (${csr[$l]}, ${csc[$l]}/$runs ok)" ;;
      *) echo "${a[$l]/#-/n/a}" ;;
    esac
  }
  cri_cells() { local l; for l in "${labels[@]}"; do printf '%s | ' "$(cri_cell "$1" "$l")"; done; }
  echo "| stdio via the CRI log: $mib MiB, StartContainer → all bytes in the log, MB/s: median (range, runs ok) | $(cri_cells csm)$(r "${csm[cri-ours]}" "${csm[cri-runc]}")$(b "${csm[cri-ours]}" "${csm[cri-baseline]:--}") |"
  echo "| stdio via the CRI log: CPU s of the runtime's processes (shim; ours: shim + QEMU): median | $(cri_cells ccm)$(r "${ccm[cri-ours]}" "${ccm[cri-runc]}")$(b "${ccm[cri-ours]}" "${ccm[cri-baseline]:--}") |"
  echo "| stdio via the CRI log: CPU s of containerd (writes the log): median | $(cri_cells cdm)$(r "${cdm[cri-ours]}" "${cdm[cri-runc]}")$(b "${cdm[cri-ours]}" "${cdm[cri-baseline]:--}") |"
fi
echo "| exec: ctr task exec /bin/true$([ "$exec_template" = 1 ] && echo ' (ours: cloned pods)'), ms: median (range, runs ok) | $(cells c_med)$(r "${em[ours]}" "${em[runc]}")$(b "${em[ours]}" "${em[baseline]:--}") |"
echo "| exec: p90, ms | $(cells c_p90)$(r "${ep[ours]}" "${ep[runc]}")$(b "${ep[ours]}" "${ep[baseline]:--}") |"
declare -A xc=()
for l in "${labels[@]}"; do xc[$l]=$(median_of "${cpu_ms[$l]:-}"); xc[$l]=${xc[$l]:--}; done
c_xcpu() { [ "$1" = floor ] && echo "–" || echo "${xc[$1]/#-/n/a}"; }
echo "| exec: CPU ms of the pod's processes per exec (shim + its descendants; ours: + QEMU): median | $(cells c_xcpu)$(r "${xc[ours]}" "${xc[runc]}")$(b "${xc[ours]}" "${xc[baseline]:--}") |"
echo
echo "$([ "$runs" -gt 0 ] && echo "Every stdio run counted above delivered exactly $bytes bytes with the SHA-256 of $mib MiB of zeros. ")Shim at $(git log -1 --format=%h -- src 2>/dev/null)$(git diff --quiet -- src 2>/dev/null || echo ' + uncommitted changes'); $(qemu-system-x86_64 --version | head -1); runc $(runc --version 2>/dev/null | awk 'NR == 1 { print $3 }')."
[ "${#origin[@]}" -eq 0 ] || echo "- exec: the pods started from: $(for l in "${!origin[@]}"; do printf '%s: %s; ' "$l" "${origin[$l]}"; done)"
for note in "${notes[@]}"; do echo "- $note"; done
exit 0
