#!/usr/bin/env bash
# Installs (or, with --uninstall, removes) containerd-shim-cc-v2 on a node: what `make install` / `make uninstall`
# and the node installer DaemonSet (deploy/) run.
#
#   hack/install.sh [--uninstall] [--no-runtime-class]
#
# Variables (environment or make's command line):
#   DESTDIR            staging root prepended to every path written (default empty: the real /). Paths written INTO
#                      files (the configuration's kernel, containerd's ConfigPath) never contain it: they are where
#                      the files are when the node runs, as for any DESTDIR install. The DaemonSet mounts the node's
#                      / at /host and sets DESTDIR=/host.
#   PREFIX             the shim goes to $PREFIX/bin (default /usr/local; /usr/local/bin is on containerd's PATH)
#   SHAREDIR           guest assets to $SHAREDIR/cc/guest/, the defaults to $SHAREDIR/defaults/cc/configuration.toml
#                      (default /usr/share: where the shim looks when containerd names no ConfigPath)
#   CONTAINERD_CONFIG  the config.toml the CRI entry is merged into (default /etc/containerd/config.toml)
#   CONTAINERD_CONFIG_VERSION  2 (containerd 1.6/1.7) or 3 (2.x); default: the file's `version`, or for a new file
#                      containerd's major version (hack/configure-containerd.py)
#   HANDLER            the CRI runtime handler and RuntimeClass name (default cc)
#   QEMU               hypervisor.path of the installed configuration (default: the node's qemu-system-x86_64)
#   CC_RUN_DIR         runtime.run_dir of the installed configuration (default /run/cc)
#   CC_BUILD           where the built artefacts are (default build/ of this checkout: bin/, guest/)
#
# What an install writes is listed in $SHAREDIR/cc/install-manifest, one line per thing, in the order made:
#   dir <path>                        a directory the install created (it did not exist)
#   file <sha256> <path>              a file the install wrote
#   containerd-config <handler> created|merged <path>
# --uninstall walks the manifest backwards: the CRI block goes (hack/configure-containerd.py --remove, which gives back
# the file's bytes as they were; a config.toml the install created is deleted), each file goes (one changed since the
# install is kept, and said so), each directory it created goes when empty, then the manifest itself.
# Invariants: an install never overwrites a file it did not write (one that is not in the manifest stops the
# install before anything is written); running it again replaces its own files and block (an upgrade).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
uninstall=0 runtime_class=1
for arg in "$@"; do
  case "$arg" in
    --uninstall) uninstall=1 ;;
    --no-runtime-class) runtime_class=0 ;;
    *) echo "usage: $0 [--uninstall] [--no-runtime-class]" >&2; exit 2 ;;
  esac
done

DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
PREFIX=${PREFIX:-/usr/local}
SHAREDIR=${SHAREDIR:-/usr/share}
CONTAINERD_CONFIG=${CONTAINERD_CONFIG:-/etc/containerd/config.toml}
HANDLER=${HANDLER:-cc}
CC_BUILD=${CC_BUILD:-$repo/build}
for v in PREFIX SHAREDIR CONTAINERD_CONFIG; do
  case "${!v}" in /*) ;; *) echo "install: $v must be an absolute path, got '${!v}'" >&2; exit 2 ;; esac
done

shim=$PREFIX/bin/containerd-shim-cc-v2
guest=$SHAREDIR/cc/guest
defaults=$SHAREDIR/defaults/cc/configuration.toml
manifest=$SHAREDIR/cc/install-manifest
configure=(python3 "$repo/hack/configure-containerd.py")

say() { echo "install: $*" >&2; }
step_n=0 steps=0
step() { step_n=$((step_n + 1)); echo "[$step_n/$steps] $*" >&2; }

# in_manifest <path>: whether the existing manifest names <path> as a file of ours.
in_manifest() {
  [ -f "$DESTDIR$manifest" ] && awk -v p="$1" '$1 == "file" && $3 == p { found = 1 } END { exit !found }' "$DESTDIR$manifest"
}

do_uninstall() {
  if [ ! -f "$DESTDIR$manifest" ]; then
    say "nothing to uninstall: $DESTDIR$manifest does not exist"
    return 0
  fi
  steps=$(grep -cvE '^(#|$)' "$DESTDIR$manifest" || true)
  # Backwards: files before the directories that hold them.
  while read -r kind a b c; do
    case "$kind" in
      containerd-config)
        step "containerd: the $a handler out of $DESTDIR$c"
        if [ -f "$DESTDIR$c" ]; then
          "${configure[@]}" --config "$DESTDIR$c" --handler "$a" --remove
          # A file the install created holds only the `version` line it wrote once the block is gone.
          if [ "$b" = created ] && ! grep -qvE '^(version = [0-9]+)?$' "$DESTDIR$c"; then
            rm -f "$DESTDIR$c"
          fi
        fi ;;
      file)
        step "remove $DESTDIR$b"
        if [ ! -e "$DESTDIR$b" ]; then
          :
        elif [ "$(sha256sum < "$DESTDIR$b" | cut -d' ' -f1)" = "$a" ]; then
          rm -f "$DESTDIR$b"
        else
          say "kept $DESTDIR$b: it changed since it was installed"
        fi ;;
      dir)
        step "remove directory $DESTDIR$a (if empty)"
        # Only when empty: what someone else put there since is theirs (the manifest's own directory is still busy;
        # it goes at the end).
        rmdir "$DESTDIR$a" 2>/dev/null || true ;;
    esac
  done < <(grep -vE '^(#|$)' "$DESTDIR$manifest" | tac)
  rm -f "$DESTDIR$manifest"
  # The directories that held the manifest (skipped above), innermost first, once nothing else is in them.
  while read -r kind a; do
    [ "$kind" = dir ] && { rmdir "$DESTDIR$a" 2>/dev/null || true; }
  done < <(grep -E '^dir ' <<<"$manifest_copy" | tac)
  say "uninstalled; restart containerd to apply (systemctl restart containerd)"
  if [ "$runtime_class" -eq 1 ]; then
    say "delete the RuntimeClass from the cluster: kubectl delete runtimeclass $HANDLER"
  fi
}

if [ "$uninstall" -eq 1 ]; then
  manifest_copy=$(cat "$DESTDIR$manifest" 2>/dev/null || true)
  do_uninstall
  exit 0
fi

# ---- install ----
for f in bin/containerd-shim-cc-v2 guest/vmlinux guest/initramfs.cpio guest/kernel-version; do
  [ -f "$CC_BUILD/$f" ] || { say "$CC_BUILD/$f is missing: run \`make build guest\` first"; exit 1; }
done
command -v python3 >/dev/null || { say "python3 is needed (hack/configure-containerd.py)"; exit 1; }

# Refuse before writing anything: a file in the way that an earlier install of ours did not write.
for target in "$shim" "$guest/vmlinux" "$guest/initramfs.cpio" "$guest/kernel-version" "$defaults"; do
  if [ -e "$DESTDIR$target" ] && ! in_manifest "$target"; then
    say "$DESTDIR$target exists and was not installed by this script; move it away first"
    exit 1
  fi
done
# The merge is checked before anything else is written too (a version 1 file, a hand-made handler of that name).
version_args=()
[ -z "${CONTAINERD_CONFIG_VERSION:-}" ] || version_args=(--version "$CONTAINERD_CONFIG_VERSION")
"${configure[@]}" --config "$DESTDIR$CONTAINERD_CONFIG" --handler "$HANDLER" --config-path "$defaults" \
    --runtime-path "$shim" "${version_args[@]}" --dry-run >/dev/null

# An upgrade keeps the first install's record of what existed before it (dirs and the config file it created).
old_manifest=$(cat "$DESTDIR$manifest" 2>/dev/null || true)
new_manifest=$(mktemp)
# A failed install still records what it wrote (and what an earlier install had), so `make uninstall` can remove it.
keep_partial_manifest() {
  [ -f "$new_manifest" ] || return 0
  grep -vE '^(#|$)' <<<"$old_manifest" | while IFS= read -r line; do
    grep -qxF "$line" "$new_manifest" || echo "$line" >>"$new_manifest"
  done || true
  if [ -d "$DESTDIR$(dirname "$manifest")" ] && grep -qvE '^(#|$)' "$new_manifest"; then
    mv -f "$new_manifest" "$DESTDIR$manifest"
    say "install failed; what it wrote is listed in $DESTDIR$manifest (\`make uninstall\` removes it)"
  fi
  rm -f "$new_manifest"
}
trap keep_partial_manifest EXIT
echo "# containerd-shim-cc-v2 install manifest (hack/install.sh); \`make uninstall\` removes what it lists" >"$new_manifest"
# An upgrade: the directories the first install created stay recorded (they exist now, so make_dir will not).
grep -E '^dir ' <<<"$old_manifest" >>"$new_manifest" || true

# make_dir <path>: mkdir -p, recording each directory it creates (outermost first).
make_dir() {
  local d=$1 missing=()
  while [ ! -d "$DESTDIR$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
  for d in "${missing[@]}"; do
    mkdir -m 0755 "$DESTDIR$d"
    echo "dir $d" >>"$new_manifest"
  done
}

# put <source> <target> <mode>: copies with progress for the big ones, records the file.
put() {
  local size; size=$(stat -c %s "$1")
  step "$(basename "$2") -> $DESTDIR$2 ($(numfmt --to=iec --suffix=B "$size"))"
  make_dir "$(dirname "$2")"
  # Into a temporary name beside the target, then renamed: a reader (a booting VM) never sees half a kernel.
  local tmp; tmp=$(mktemp "$DESTDIR$(dirname "$2")/.install.XXXXXX")
  if command -v pv >/dev/null && [ -t 2 ]; then pv -petr "$1" >"$tmp"; else cat "$1" >"$tmp"; fi
  chmod "$3" "$tmp"
  mv -f "$tmp" "$DESTDIR$2"
  echo "file $(sha256sum < "$DESTDIR$2" | cut -d' ' -f1) $2" >>"$new_manifest"
}

steps=7
make_dir "$(dirname "$manifest")"
put "$CC_BUILD/bin/containerd-shim-cc-v2" "$shim" 0755
put "$CC_BUILD/guest/vmlinux" "$guest/vmlinux" 0644
put "$CC_BUILD/guest/initramfs.cpio" "$guest/initramfs.cpio" 0644
put "$CC_BUILD/guest/kernel-version" "$guest/kernel-version" 0644

# QEMU as the node has it (under DESTDIR: the DaemonSet's container has none of its own).
qemu=${QEMU:-}
if [ -z "$qemu" ]; then
  for candidate in /usr/bin/qemu-system-x86_64 /usr/local/bin/qemu-system-x86_64 /usr/libexec/qemu-kvm; do
    if [ -x "$DESTDIR$candidate" ]; then qemu=$candidate; break; fi
  done
  if [ -z "$qemu" ]; then
    qemu=/usr/bin/qemu-system-x86_64
    say "warning: no QEMU found on the node; the configuration names $qemu (install qemu-system-x86, or set QEMU)"
  fi
fi
config=$(mktemp)
bash "$repo/hack/print-configuration.sh" "$qemu" "$guest" \
  "Installed by containerd-shim-cc-v2's hack/install.sh: the defaults the shim reads when containerd names no
ConfigPath, and the file containerd's CRI handler \"$HANDLER\" names. Keys: docs/configuration.md. Copy it to
/etc/cc/configuration.toml to change it (that file wins over this one, and an upgrade never touches it)." >"$config"
put "$config" "$defaults" 0644
rm -f "$config"

step "containerd: the $HANDLER handler into $DESTDIR$CONTAINERD_CONFIG"
state=merged
if grep -q "^containerd-config $HANDLER created $CONTAINERD_CONFIG\$" <<<"$old_manifest"; then
  state=created
elif [ ! -e "$DESTDIR$CONTAINERD_CONFIG" ]; then
  state=created
  make_dir "$(dirname "$CONTAINERD_CONFIG")"
fi
"${configure[@]}" --config "$DESTDIR$CONTAINERD_CONFIG" --handler "$HANDLER" --config-path "$defaults" \
    --runtime-path "$shim" "${version_args[@]}"
echo "containerd-config $HANDLER $state $CONTAINERD_CONFIG" >>"$new_manifest"

step "manifest -> $DESTDIR$manifest"
trap - EXIT
mv -f "$new_manifest" "$DESTDIR$manifest"
chmod 0644 "$DESTDIR$manifest"
say "installed; restart containerd to apply (systemctl restart containerd)"
say "ctr: ctr run --runtime io.containerd.cc.v2 --runtime-config-path $defaults IMAGE ID CMD"
if [ "$runtime_class" -eq 1 ]; then
  say "Kubernetes: apply this RuntimeClass (kubectl apply -f -):"
  "${configure[@]}" --handler "$HANDLER" --runtime-class
fi
