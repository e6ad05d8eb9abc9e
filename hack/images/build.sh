#!/usr/bin/env bash
# Builds the local test images (no registry is reachable) as OCI archives that `ctr images import`
# accepts:
#   build/images/busybox.oci.tar  ->  localhost/cc/busybox:test  (busybox-static, applet links, /etc/passwd)
#   build/images/pause.oci.tar    ->  localhost/cc/pause:test    (hack/images/pause/pause.c, gcc -static)
# and build/images/images.env, which names both (sourced by hack/containerd/*, the demo, the bench
# and read by integration/Cc.Integration.Containerd).
#
# The archives carry only the tag ("test") as their OCI ref name: import them with
#   ctr images import --base-name localhost/cc/busybox build/images/busybox.oci.tar
#
# Cached: an image is rebuilt only when its inputs change (this script, the busybox binary, pause.c,
# the umoci and gcc versions). Reproducible-ish: every file time, the layer and the config dates are
# clamped to SOURCE_DATE_EPOCH, so the same inputs give the same layer digest.
#
# usage: hack/images/build.sh [busybox|pause|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
out=$repo/build/images
what=${1:-all}
epoch=${SOURCE_DATE_EPOCH:-946684800} # 2000-01-01T00:00:00Z, a fixed date, not "now"
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
busybox_bin=${BUSYBOX:-/bin/busybox}
arch=amd64

die() { echo "images: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root (umoci unpack/repack keeps file ownership)"
command -v umoci >/dev/null || die "umoci is missing (make deps)"
mkdir -p "$out"

# key <name> <input files...>: a digest of everything that decides the image's bytes.
key() {
  local name=$1; shift
  { echo "$name $epoch $arch"; umoci --version; gcc --version | head -1; sha256sum "$0" "$@"; } | sha256sum | cut -c1-64
}

# fresh <name> <key>: true when build/images/<name>.oci.tar was built from the same inputs.
fresh() { [ -f "$out/$1.oci.tar" ] && [ "$(cat "$out/$1.key" 2>/dev/null)" = "$2" ]; }

# base_rootfs <dir>: what every test image needs: the mount points runtimes expect, a root user
# (so `id`, `whoami` and USER-less specs resolve), and a world-writable /tmp.
base_rootfs() {
  local r=$1
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,root,run,var/tmp}
  chmod 1777 "$r/tmp" "$r/var/tmp"
  chmod 0700 "$r/root"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
  : >"$r/etc/hosts"
  : >"$r/etc/resolv.conf"
}

populate_busybox() {
  local r=$1
  base_rootfs "$r"
  install -m 0755 "$busybox_bin" "$r/bin/busybox"
  # --list-full prints each applet with its conventional directory (bin/ls, usr/bin/awk, sbin/...);
  # every link points at the one binary by absolute path.
  local applet
  while read -r applet; do
    [ -n "$applet" ] || continue
    [ -e "$r/$applet" ] || ln -s /bin/busybox "$r/$applet"
  done < <("$busybox_bin" --list-full)
  [ -L "$r/bin/sh" ] || die "busybox at $busybox_bin has no sh applet"
}

populate_pause() {
  local r=$1
  base_rootfs "$r"
  gcc -static -Os -s -Wall -Wextra -Werror -o "$r/pause" hack/images/pause/pause.c
}

# build <name> <ref tag> <cmd> <key>: umoci init -> new -> unpack -> populate -> repack -> config ->
# gc, then one tar of the layout with sorted names and clamped times.
build() {
  local name=$1 tag=$2 cmd=$3 k=$4
  local work
  work=$(mktemp -d "$out/.work-$name.XXXXXX")
  trap 'rm -rf "$work"' RETURN
  local layout=$work/layout bundle=$work/bundle
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci unpack --image "$layout:$tag" "$bundle" >/dev/null
  "populate_$name" "$bundle/rootfs"
  find "$bundle/rootfs" -exec touch -h -d "@$epoch" {} +
  umoci repack --image "$layout:$tag" --history.created "$created" \
    --history.created_by "hack/images/build.sh $name" "$bundle"
  umoci config --image "$layout:$tag" --created "$created" --history.created "$created" \
    --architecture "$arch" --os linux \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.workingdir / --config.cmd "$cmd"
  umoci gc --layout "$layout"
  find "$layout" -exec touch -h -d "@$epoch" {} +
  tar -C "$layout" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    -cf "$out/$name.oci.tar.tmp" .
  mv "$out/$name.oci.tar.tmp" "$out/$name.oci.tar"
  echo "$k" >"$out/$name.key"
  echo "images: built $out/$name.oci.tar ($(du -k "$out/$name.oci.tar" | cut -f1) KiB)"
}

# Cmd, not Entrypoint: with only Cmd set, `ctr run <img> <id> <args>` and a CRI `command:` both
# replace the whole argv, and a bare `ctr run -t <img> <id>` still gets a shell.
if [ "$what" = all ] || [ "$what" = busybox ]; then
  [ -x "$busybox_bin" ] || die "$busybox_bin is missing (apt-get install busybox-static)"
  file -L "$busybox_bin" 2>/dev/null | grep -q 'dynamically linked' && die "$busybox_bin must be static"
  k=$(key busybox "$busybox_bin")
  if fresh busybox "$k"; then echo "images: busybox up to date"; else build busybox test /bin/sh "$k"; fi
fi
if [ "$what" = all ] || [ "$what" = pause ]; then
  command -v gcc >/dev/null || die "gcc is missing"
  k=$(key pause hack/images/pause/pause.c)
  if fresh pause "$k"; then echo "images: pause up to date"; else build pause test /pause "$k"; fi
fi

cat >"$out/images.env" <<EOF
# Written by hack/images/build.sh: the test images and the names they are imported under.
BUSYBOX_TAR=$out/busybox.oci.tar
BUSYBOX_BASE=localhost/cc/busybox
BUSYBOX_IMAGE=localhost/cc/busybox:test
PAUSE_TAR=$out/pause.oci.tar
PAUSE_BASE=localhost/cc/pause
PAUSE_IMAGE=localhost/cc/pause:test
EOF
