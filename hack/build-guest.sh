#!/usr/bin/env bash
# make guest: the guest kernel and initramfs in build/guest/ (names and contract: docs/design/guest.md,
# how it is built and why: docs/guest-image.md).
#
# Everything comes from Debian packages: the kernel from linux-image-amd64's current dependency
# (downloaded with apt-get download, extracted with dpkg -x, never installed on the host), crun and
# busybox-static from the host's installed packages, /init from build/bin/cc-agent (make build).
#
# Reproducible: the same inputs give the same bytes. The archives are written by hack/guest/mkcpio.py
# (sorted entries, owners 0:0, every mtime = SOURCE_DATE_EPOCH, which defaults to the time of the
# last commit that touched this script or hack/guest/).
# Idempotent: the .deb, vmlinux and the chosen modules are cached in build/guest-cache/<pkg>_<version>/;
# the outputs are rebuilt only when an input changes (the agent, crun, busybox, the kernel package,
# these scripts, the module list); a stamp of the inputs' hashes decides.
#
# Environment: CC_AGENT (default build/bin/cc-agent), GUEST_KERNEL_META (default linux-image-amd64),
# GUEST_KERNEL_SUITE (default: the host's apt sources; a Debian suite name such as trixie takes the kernel package
# from that suite through a private apt state under build/apt-<suite>/, never the host's), GUEST_OUT (default
# build/guest), SOURCE_DATE_EPOCH, GUEST_FORCE=1 (rebuild even when the stamp matches).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${GUEST_OUT:-build/guest}
cache=build/guest-cache
agent=${CC_AGENT:-build/bin/cc-agent}
meta=${GUEST_KERNEL_META:-linux-image-amd64}
suite=${GUEST_KERNEL_SUITE:-}
crun=$(command -v crun || true)
busybox=$(command -v busybox || true)
helpers=hack/guest

# The modules the guest needs, in the order we want them considered; each one's dependencies are
# placed before it. Built-in ones are skipped (modules.builtin). virtio_mmio serves -machine microvm.
wanted_modules=(
  virtio_pci virtio_mmio    # transports
  virtio_console            # virtio-serial: the agent channel /dev/virtio-ports/cc.agent.0
  9pnet_virtio 9p           # the shared directory (virtio-9p), with netfs/fscache as dependencies
  virtiofs                  # virtio-fs (fuse as a dependency), for kernels or hosts without 9p
  vmw_vsock_virtio_transport # AF_VSOCK on hosts with vhost-vsock
  virtio_net virtio_blk     # network and block devices
  virtio_balloon            # free page reporting (docs/performance.md): freed guest pages go back to the host
  virtio_mem                # memory hot-plug (docs/hotplug.md): the VM grows and shrinks through virtio-mem-pci
  overlay                   # overlayfs for container root filesystems
  bridge                    # Linux bridges made inside a pod (privileged or CAP_NET_ADMIN: brctl, CNI-in-pod); the
                            # guest has no modprobe, so the kernel cannot load it on demand as the host's does
)

# The modules the agent needs before it can answer the host: the transports, its port and the share. Their closure is
# /etc/cc/modules.boot. AF_VSOCK (served when /dev/vsock exists as the agent starts) is needed before ready only when the
# VM has a virtio-vsock device: its modules beyond the boot set are /etc/cc/modules.vsock, which the agent loads before
# ready when it finds that device on the virtio bus and with the rest otherwise. The rest of /etc/cc/modules loads in
# the background after ready, and a request that could need one of them waits for that (docs/guest-image.md, "Modules").
boot_modules=(virtio_pci virtio_mmio virtio_console 9pnet_virtio 9p)
vsock_modules=(vmw_vsock_virtio_transport)

die() { echo "build-guest: $*" >&2; exit 1; }
log() { echo "build-guest: $*"; }
# The build is long the first time (a ~100 MB kernel package to fetch and unpack): each step says itself.
steps=6
step() { echo "build-guest: [$1/$steps] $2"; }

[ -x "$agent" ] || die "$agent is missing: run 'make build' first (the agent is the initramfs's /init)"
[ -n "$crun" ] || die "crun is not installed (hack/install-deps.sh installs it)"
# ldd exits non-zero for a static executable; its message is what tells static from dynamic.
case "$([ -n "$busybox" ] && ldd "$busybox" 2>&1 || true)" in
  *"not a dynamic executable"*) ;;
  *) die "busybox-static is not installed (floor.cpio needs a static busybox)" ;;
esac
for tool in apt-get apt-cache dpkg depmod python3 sha256sum ldd strip; do
  command -v "$tool" >/dev/null || die "'$tool' is required"
done

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct -- hack/build-guest.sh "$helpers" 2>/dev/null || true)
  SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
fi
export SOURCE_DATE_EPOCH

step 1 "resolving the kernel package of $meta${suite:+ in $suite}"
# --- 1. The kernel package: linux-image-amd64 depends on exactly one linux-image-<release>-amd64.
# With GUEST_KERNEL_SUITE, apt reads its own sources and lists (as hack/fetch-trixie.sh does): the host's apt
# configuration and dpkg state are read, never written; the lists are fetched once and refreshed when a day old.
apt_opts=()
if [ -n "$suite" ]; then
  aptdir=$PWD/build/apt-$suite
  mkdir -p "$aptdir"/lists/partial "$aptdir"/archives/partial
  echo "deb http://deb.debian.org/debian $suite main" > "$aptdir/sources.list"
  apt_opts=(-o Dir::Etc::SourceList="$aptdir/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o Dir::State="$aptdir" -o Dir::State::status=/var/lib/dpkg/status -o Dir::Cache="$aptdir"
            -o APT::Get::List-Cleanup=0)
  if [ -z "$(find "$aptdir/lists" -maxdepth 1 -name '*_Packages*' -mtime -1 2>/dev/null)" ]; then
    apt-get "${apt_opts[@]}" update -qq || log "apt-get update for $suite failed; using its lists as they are"
  fi
fi
resolve_kernel() {
  local pkg ver
  pkg=$(apt-cache "${apt_opts[@]}" depends "$meta" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
  [ -n "$pkg" ] || return 1
  ver=$(apt-cache "${apt_opts[@]}" policy "$pkg" | awk '/Candidate:/ { print $2; exit }')
  [ -n "$ver" ] && [ "$ver" != "(none)" ] || return 1
  echo "$pkg $ver"
}
if resolved=$(resolve_kernel); then
  read -r kpkg kver <<<"$resolved"
else
  # Offline or no apt lists: fall back to the newest kernel already in the cache from the same suite (each
  # entry's suite file; entries from before it existed are the host's).
  last=
  for d in $(ls -d "$cache"/linux-image-*/ 2>/dev/null | sort -V); do
    if [ "$(cat "$d/suite" 2>/dev/null || echo host)" = "${suite:-host}" ]; then last=${d%/}; fi
  done
  [ -n "$last" ] || die "cannot resolve $meta's kernel package (apt-get update?) and the cache is empty"
  last=$(basename "$last")
  kpkg=${last%%_*} kver=${last#*_}
  log "apt cannot resolve $meta; using the cached $kpkg $kver"
fi
kcache=$cache/${kpkg}_${kver//:/%}

step 2 "kernel package (fetched and unpacked once per version, then cached)"
# --- 2. Download, extract, depmod, extract vmlinux: once per package version.
if [ ! -f "$kcache/complete" ]; then
  log "fetching $kpkg $kver"
  rm -rf "$kcache"
  mkdir -p "$kcache"
  work=$(mktemp -d "$cache/work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get "${apt_opts[@]}" download -q "$kpkg=$kver" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  deb=$(ls "$work"/*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || die "apt-get download $kpkg=$kver produced no .deb"
  dpkg -x "$deb" "$work/root"
  # Where the package puts its modules: lib/modules (Debian 12), usr/lib/modules (Debian 13's merged /usr).
  moddir=lib/modules
  [ -d "$work/root/$moddir" ] || moddir=usr/lib/modules
  [ -d "$work/root/$moddir" ] || die "$deb has neither lib/modules nor usr/lib/modules"
  release=$(ls "$work/root/$moddir")
  [ "$(wc -w <<<"$release")" -eq 1 ] || die "expected one kernel release in $deb, found: $release"
  # The package ships no modules.dep (its postinst runs depmod on the host): compute it on the copy. depmod -b
  # reads <base>/lib/modules, so usr/lib/modules takes <base> = usr.
  depbase=$work/root
  [ "$moddir" = lib/modules ] || depbase=$work/root/usr
  depmod -b "$depbase" "$release"
  python3 "$helpers/extract-vmlinux.py" "$work/root/boot/vmlinuz-$release" "$kcache/vmlinux"
  cp "$work/root/boot/vmlinuz-$release" "$kcache/vmlinuz"
  cp "$work/root/boot/config-$release" "$kcache/config"
  # Only the module indexes are kept (the module tree is ~380 MB); the chosen modules are taken
  # from the cached .deb below, once per module list.
  mkdir -p "$kcache/lib"
  cp "$work/root/$moddir/$release"/modules.{dep,builtin,order} "$kcache/lib/"
  echo "$release" > "$kcache/release"
  echo "$moddir" > "$kcache/moddir"
  echo "${suite:-host}" > "$kcache/suite"
  mv "$deb" "$kcache/"
  rm -rf "$work"
  trap - EXIT
  touch "$kcache/complete"
fi
release=$(cat "$kcache/release")
moddir=$(cat "$kcache/moddir" 2>/dev/null || echo lib/modules) # caches from before the file: lib/modules

step 3 "module closure of the guest's modules"
# --- 3. The module closure in load order, from modules.dep (each line: "path: dep dep ...", where the
# dependency list is already transitive). A depth-first walk puts every dependency before its user.
declare -A dep_path dep_list placed
while IFS= read -r line; do
  path=${line%%:*}
  name=${path##*/}; name=${name%%.ko*}
  dep_path[$name]=$path
  dep_list[$name]=${line#*:}
done < "$kcache/lib/modules.dep"
load_order=()
builtin_wanted=() # wanted modules the kernel has built in (Debian 13: virtio_pci, virtio_console, virtiofs)
place() {
  local name=$1 dep
  [ -z "${placed[$name]:-}" ] || return 0
  placed[$name]=1
  for dep in ${dep_list[$name]}; do
    dep=${dep##*/}; place "${dep%%.ko*}"
  done
  load_order+=("$name")
}
for name in "${wanted_modules[@]}"; do
  if [ -n "${dep_path[$name]:-}" ]; then
    place "$name"
  elif grep -qE "/$name\.ko$" "$kcache/lib/modules.builtin"; then
    log "module $name is built into $release: skipped"
    builtin_wanted+=("$name")
  else
    die "module $name is neither in modules.dep nor built into $release"
  fi
done

# The boot set's closure, in the same load order (a subset of load_order, so its dependencies come first too).
declare -A boot_placed
boot_walk() {
  local name=$1 dep
  [ -z "${boot_placed[$name]:-}" ] || return 0
  boot_placed[$name]=1
  for dep in ${dep_list[$name]}; do
    dep=${dep##*/}; boot_walk "${dep%%.ko*}"
  done
}
for name in "${boot_modules[@]}"; do
  [ -z "${dep_path[$name]:-}" ] || boot_walk "$name"
done
boot_order=()
for name in "${load_order[@]}"; do
  [ -z "${boot_placed[$name]:-}" ] || boot_order+=("$name")
done
# The vsock set: the closure of vsock_modules less what the boot set already has (boot_walk stops at placed names).
for name in "${vsock_modules[@]}"; do
  [ -z "${dep_path[$name]:-}" ] || boot_walk "$name"
done
vsock_order=()
for name in "${load_order[@]}"; do
  if [ -n "${boot_placed[$name]:-}" ] && [[ " ${boot_order[*]} " != *" $name "* ]]; then
    vsock_order+=("$name")
  fi
done

step 4 "decompressing the chosen modules (once per module list)"
# --- 4. The chosen modules, decompressed: the agent loads them with finit_module, which wants a
# plain ELF unless the kernel decompresses modules itself. Cached per module list, taken from the .deb.
# The set's name hashes the load order and how the modules are prepared ("stripped": see below).
modset=$kcache/modules-$(printf '%s\n' "${load_order[@]}" stripped | sha256sum | cut -c1-12)
if [ ! -f "$modset/complete" ]; then
  rm -rf "$modset"
  work=$(mktemp -d "$cache/work.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  members=()
  for name in "${load_order[@]}"; do members+=("./$moddir/$release/${dep_path[$name]}"); done
  dpkg-deb --fsys-tarfile "$(ls "$kcache"/*.deb)" | tar -x -C "$work" "${members[@]}"
  mkdir -p "$work/set"
  for name in "${load_order[@]}"; do
    src=$work/$moddir/$release/${dep_path[$name]}
    case "$src" in
      *.ko) cp "$src" "$work/set/$name.ko" ;;
      *.ko.xz) xz -dc "$src" > "$work/set/$name.ko" ;;
      *.ko.zst) zstd -dcq "$src" > "$work/set/$name.ko" ;;
      *.ko.gz) gzip -dc "$src" > "$work/set/$name.ko" ;;
      *) die "unknown module file type: $src" ;;
    esac
    # Stripped of what only costs boot time here (docs/guest-image.md, "Modules"): Debian signs every module, and the
    # kernel hashes all of a signed module (sha256) before loading it, then parses its .BTF type section; under TCG both
    # are slow and every module is loaded at each boot. The guest needs neither (no MODULE_SIG_FORCE, no lockdown,
    # no BPF tooling). strip rewrites the ELF, which drops the signature appended after it; the kernel then loads the
    # module unverified and notes it once ("module verification failed ... tainting kernel").
    strip --strip-debug -R .BTF "$work/set/$name.ko"
  done
  printf '%s\n' "${load_order[@]}" > "$work/set/modules.list"
  mv "$work/set" "$modset"
  rm -rf "$work"
  trap - EXIT
  touch "$modset/complete"
fi

step 5 "comparing inputs with the last build"
# --- 5. Inputs stamp: skip the rest when nothing changed.
inputs=$(
  {
    echo "kernel $kpkg $kver $release"
    echo "modules ${load_order[*]}"
    echo "boot modules ${boot_order[*]}"
    echo "vsock modules ${vsock_order[*]}"
    echo "epoch $SOURCE_DATE_EPOCH"
    sha256sum "$agent" "$crun" "$busybox" hack/build-guest.sh
    find "$helpers" -type f ! -path '*/__pycache__/*' | LC_ALL=C sort | xargs sha256sum
    { ldd "$agent" "$crun" 2>/dev/null || true; } | awk '/=>/ { print $3 } /^\t\// { print $1 }' | sort -u | xargs -r sha256sum
  } | sha256sum | cut -c1-64
)
if [ -z "${GUEST_FORCE:-}" ] && [ -f "$out/.inputs" ] && [ "$(cat "$out/.inputs")" = "$inputs" ] \
   && [ -f "$out/manifest.txt" ]; then
  log "up to date ($out, kernel $release)"
  cat "$out/manifest.txt"
  exit 0
fi

mkdir -p "$out"
rm -f "$out/.inputs"
stage=$(mktemp -d "$cache/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

printf '%s\n' "${boot_order[@]}" > "$stage/modules.boot"
printf '%s\n' "${vsock_order[@]}" > "$stage/modules.vsock"
# Wanted modules this kernel has built in: nothing loads them; the file tells the image's tests (and a reader) that
# they are present although /etc/cc/modules does not name them. Empty with Debian 12's kernel.
printf '%s\n' "${builtin_wanted[@]}" | grep . > "$stage/modules.builtin" || true

# Entries both archives share: the skeleton, the console node (the kernel opens /dev/console for
# /init's stdio before /init runs), the modules and their load order.
common_entries() {
  local d name
  for d in proc sys dev run etc etc/cc lib lib/modules lib/modules/cc root; do
    echo "dir $d 0755"
  done
  echo "dir tmp 1777"
  echo "nod dev/console 0600 c 5 1"
  echo "nod dev/null 0666 c 1 3"
  echo "file etc/cc/modules $modset/modules.list 0644"
  echo "file etc/cc/modules.boot $stage/modules.boot 0644"
  echo "file etc/cc/modules.vsock $stage/modules.vsock 0644"
  echo "file etc/cc/modules.builtin $stage/modules.builtin 0644"
  for name in "${load_order[@]}"; do
    echo "file lib/modules/cc/$name.ko $modset/$name.ko 0644"
  done
}

# Shared libraries of an executable as ldd resolves them on this host, placed at the same paths in the
# guest (the dynamic loader's built-in search path covers them; the image has no ld.so.cache).
# A static executable has none: ldd says so and fails, which is not an error here.
library_entries() {
  { ldd "$@" 2>/dev/null || true; } | awk '
    /=>/ && $3 ~ /^\// { print $3 }
    /^\t\// { print $1 }' | sort -u | while read -r lib; do
      echo "file ${lib#/} $(readlink -f "$lib") 0755"
    done
}

# initramfs.cpio: /init is the agent; crun creates the containers. No shell, no scripts.
{
  common_entries
  echo "dir usr 0755"
  echo "dir usr/bin 0755"
  echo "file init $agent 0755"
  echo "file usr/bin/crun $crun 0755"
  library_entries "$agent" "$crun"
} > "$stage/initramfs.list"

# floor.cpio: busybox's shell as /init, loading the same modules.
{
  common_entries
  echo "dir bin 0755"
  echo "file bin/busybox $busybox 0755"
  echo "file init $helpers/floor-init.sh 0755"
} > "$stage/floor.list"

step 6 "writing initramfs.cpio and floor.cpio into $out"
python3 "$helpers/mkcpio.py" "$stage/initramfs.cpio" < "$stage/initramfs.list"
python3 "$helpers/mkcpio.py" "$stage/floor.cpio" < "$stage/floor.list"

# Install the outputs; the kernel files are copied only when they differ (65 MB).
for f in vmlinux vmlinuz; do
  if ! cmp -s "$kcache/$f" "$out/$f"; then
    cp "$kcache/$f" "$out/$f.tmp"
    mv -f "$out/$f.tmp" "$out/$f"
  fi
done
mv -f "$stage/initramfs.cpio" "$out/initramfs.cpio"
mv -f "$stage/floor.cpio" "$out/floor.cpio"
echo "$release" > "$out/kernel-version"

# manifest.txt: the inputs, then size and sha256 of every output.
{
  echo "# build/guest manifest (hack/build-guest.sh); SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH"
  echo "kernel-package $kpkg $kver"
  echo "kernel-release $release"
  echo "crun $("$crun" --version | head -1)"
  echo "busybox $("$busybox" | head -1 | awk '{ print $2 }')"
  echo "agent $(sha256sum "$agent" | cut -c1-64)"
  echo "modules ${load_order[*]}"
  echo "boot-modules ${boot_order[*]}"
  echo "vsock-modules ${vsock_order[*]}"
  echo "builtin-modules ${builtin_wanted[*]}"
  for f in vmlinux vmlinuz initramfs.cpio floor.cpio kernel-version; do
    printf '%-16s %10d  %s\n' "$f" "$(stat -c %s "$out/$f")" "$(sha256sum "$out/$f" | cut -c1-64)"
  done
} > "$out/manifest.txt"
echo "$inputs" > "$out/.inputs"
cat "$out/manifest.txt"
