#!/usr/bin/env bash
# Runs cri-tools' validation suite (critest) against one private containerd with its CRI plugin, with
# handler runc and then handler cc, and prints each handler's pass count and every spec whose result
# differs. Offline: a loopback registry (Debian's docker-registry) holds stand-in images under the
# names critest pulls (gcr.io/k8s-staging-cri-tools/*, registry.k8s.io/e2e-test-images/*), built from
# our busybox image (hack/images/build.sh); containerd reaches it through a hosts.toml per registry
# (CC_CRI_REGISTRY_CONFIG, hack/containerd/start.sh).
#
#   CRITEST=/path/to/critest hack/critest.sh [--version 1.6|1.7] [--handlers "runc cc"]
#       [--focus REGEX] [--skip REGEX] [--spec-timeout SECONDS] [--out DIR]
#
# cri-tools is not in Debian and this script neither fetches nor builds it: CRITEST names a binary
# built elsewhere (docs/kubernetes.md, "critest"). Each spec runs in its own critest process under
# `timeout`, so a hung spec costs --spec-timeout (default 180 s) and is reported as TIMEOUT instead of
# ending the run; ginkgo runs the spec's clean-up on the SIGINT. A spec critest skips at run time
# (a feature the runtime does not announce) is SKIP. Results: DIR/<handler>.tsv (status,
# seconds, spec) and DIR/<handler>/<n>.log, DIR defaulting to a fresh /tmp/cc-critest.XXXXXX.
# Needs root, after `make build guest`. Everything it starts (registry, containerd) is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

version=1.7 handlers="runc cc" focus= skip= spec_timeout=180 out=
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --handlers) handlers=$2; shift 2 ;;
    --focus) focus=$2; shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    --spec-timeout) spec_timeout=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) sed -n '10,11p' "$0" >&2; exit 2 ;;
  esac
done
die() { echo "critest: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root"
[ -n "${CRITEST:-}" ] && [ -x "$CRITEST" ] || die "set CRITEST to a critest binary (cri-tools is built outside this repo)"
for tool in docker-registry skopeo umoci python3 curl; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install docker-registry skopeo umoci)"
done
[ -n "$out" ] || out=$(mktemp -d /tmp/cc-critest.XXXXXX)
mkdir -p "$out"
work=$(mktemp -d /tmp/cc-critest-work.XXXXXX)

registry_pid= ctrd=
cleanup() {
  [ -z "$ctrd" ] || bash "$repo/hack/containerd/stop.sh" "$ctrd" >&2 || true
  [ -z "$registry_pid" ] || { kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

# --- the loopback registry ---------------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
EOF
docker-registry serve "$work/registry.yml" >"$out/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
  kill -0 "$registry_pid" 2>/dev/null || die "docker-registry exited: $(tail -n 5 "$out/registry.log")"
  sleep 0.1
done

# --- stand-in images ---------------------------------------------------------------------------
# Each name critest pulls gets a busybox variant with what the spec checks: the user images their
# USER (and the passwd/group entries it names), the web servers an httpd on their port behind a
# process named nginx, every name an image of its own except the tags critest pulls as one image,
# and pgrep and ipcs, which Debian's busybox lacks. The digest-pinned reference
# (test-image-digest@sha256:9700…) cannot be reproduced, so that spec fails for every handler.
bash "$repo/hack/images/build.sh" busybox >&2
layout=$work/layout
mkdir -p "$layout" && tar -xf "$repo/build/images/busybox.oci.tar" -C "$layout"
files=$work/files
mkdir -p "$files"
# variant <tag> [umoci config args...]: a new tag of the busybox layout with a changed config.
variant() { local tag=$1; shift; umoci config --image "$layout:test" --tag "$tag" "$@"; }
# insert <tag> <src> <dest>: adds a file to an existing tag (a new layer).
insert() { umoci insert --image "$layout:$1" "$2" "$3" >/dev/null; }
push() { skopeo copy -q --dest-tls-verify=false "oci:$layout:$1" "docker://127.0.0.1:$port/$2" >&2; }
# distinct <tag> <name>: pushes <tag> as <name> but as an image of its own (a label makes its config,
# so its id, differ): the image specs expect one repo tag per image unless they pull two tags of one.
distinct() {
  umoci config --image "$layout:$1" --tag "distinct-${2//[:\/]/-}" --config.label "critest.stand-in=$2"
  push "distinct-${2//[:\/]/-}" "$2"
}

printf 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\ndefault-user:x:1000:1000::/home/default-user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$files/passwd"
printf 'root:x:0:\nwww-data:x:33:\ndefault-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\nnogroup:x:65534:\n' >"$files/group"
mkdir -p "$files/www" && echo '<h1>critest stand-in</h1>' >"$files/www/index.html"
# Debian's busybox has no pgrep applet; the e2e busybox has, and execSync's timeout spec runs
# `pgrep sleep`. This one prints the pid of every process whose name matches, as pgrep does.
cat >"$files/pgrep" <<'EOF'
#!/bin/sh
found=1
for d in /proc/[0-9]*; do
  name=$(cat "$d/comm" 2>/dev/null) || continue
  case "$name" in *"$1"*) echo "${d#/proc/}"; found=0 ;; esac
done
exit $found
EOF
# Nor ipcs, which the IPC namespace specs run as `ipcs -m`: the ids of the shared memory segments.
cat >"$files/ipcs" <<'EOF'
#!/bin/sh
echo '------ Shared Memory Segments --------'
echo 'key        shmid      owner      perms      bytes      nattch     status'
tail -n +2 /proc/sysvipc/shm | while read -r key shmid perms size rest; do echo "$key $shmid $perms $size"; done
EOF
# The nginx stand-in: a process named nginx (the script's name is its comm) whose pid is in
# /var/run/nginx.pid, as the PID namespace specs expect, serving /www on the port given.
cat >"$files/nginx" <<'EOF'
#!/bin/sh
mkdir -p /var/run && echo $$ >/var/run/nginx.pid
httpd -f -p "${1:-80}" -h /www &
trap 'kill $!; exit 0' TERM INT
wait $!
EOF
chmod 0755 "$files/pgrep" "$files/ipcs" "$files/nginx"

variant e2e --config.cmd /bin/sh
insert e2e "$files/pgrep" /usr/bin/pgrep
insert e2e "$files/ipcs" /usr/bin/ipcs
push e2e e2e-test-images/busybox:1.29-2
variant users --config.cmd /bin/sh
insert users "$files/passwd" /etc/passwd
insert users "$files/group" /etc/group
umoci config --image "$layout:users" --tag user-uid --config.user 1002
umoci config --image "$layout:users" --tag user-username --config.user www-data
umoci config --image "$layout:users" --tag user-uid-group --config.user 1003:1003
umoci config --image "$layout:users" --tag user-username-group --config.user www-data:www-data
umoci config --image "$layout:users" --tag predefined-group --config.user 1000
push user-uid k8s-staging-cri-tools/test-image-user-uid:latest
push user-username k8s-staging-cri-tools/test-image-user-username:latest
push user-uid-group k8s-staging-cri-tools/test-image-user-uid-group:latest
push user-username-group k8s-staging-cri-tools/test-image-user-username-group:latest
push predefined-group k8s-staging-cri-tools/test-image-predefined-group:latest
for port_tag in 80:web 12003:hostnet-web; do
  variant "${port_tag#*:}" --config.cmd /usr/sbin/nginx --config.cmd "${port_tag%%:*}"
  insert "${port_tag#*:}" "$files/www" /www
  insert "${port_tag#*:}" "$files/nginx" /usr/sbin/nginx
done
distinct web e2e-test-images/nginx:1.14-2
distinct web e2e-test-images/httpd:2.4.39-4
distinct hostnet-web "k8s-staging-cri-tools/hostnet-nginx-amd64:latest"
variant tags --config.label critest.stand-in=test-image-tags
for n in 1 2 3; do
  distinct test "k8s-staging-cri-tools/test-image-$n:latest"
  push tags "k8s-staging-cri-tools/test-image-tags:$n"
done
distinct test k8s-staging-cri-tools/test-image-latest:latest
variant tag --config.label critest.stand-in=test-image-tag
push tag k8s-staging-cri-tools/test-image-tag:test
push tag k8s-staging-cri-tools/test-image-tag:all

hosts=$work/hosts.d
for upstream in gcr.io registry.k8s.io; do
  mkdir -p "$hosts/$upstream"
  printf 'server = "https://%s"\n\n[host."http://127.0.0.1:%s"]\n  capabilities = ["pull", "resolve"]\n' \
    "$upstream" "$port" >"$hosts/$upstream/hosts.toml"
done

# --- containerd and the spec list --------------------------------------------------------------
ctrd=$(CC_CRI_REGISTRY_CONFIG=$hosts bash "$repo/hack/containerd/start.sh" --cri --version "$version")
endpoint=unix://$ctrd/containerd.sock
filters=()
[ -z "$focus" ] || filters+=("-ginkgo.focus=$focus")
[ -z "$skip" ] || filters+=("-ginkgo.skip=$skip")
"$CRITEST" -runtime-endpoint "$endpoint" -ginkgo.dry-run -ginkgo.no-color "${filters[@]}" \
  -ginkgo.json-report="$work/dry.json" >"$out/dry-run.log" 2>&1 || die "critest --dry-run failed: $out/dry-run.log"
# One line per spec that would run: <file>:<line> TAB <full text>. The leaf's location is unique per spec.
python3 - "$work/dry.json" >"$out/specs.tsv" <<'EOF'
import json, sys
for suite in json.load(open(sys.argv[1])):
    for s in suite.get("SpecReports") or []:
        if s.get("LeafNodeType") != "It" or s.get("State") != "passed":
            continue
        loc = s["LeafNodeLocation"]
        text = " ".join(s.get("ContainerHierarchyTexts") or []) + " " + s["LeafNodeText"]
        print(f'{loc["FileName"]}:{loc["LineNumber"]}\t{text}')
EOF
total=$(wc -l <"$out/specs.tsv")
[ "$total" -gt 0 ] || die "no specs selected"
containerd_version=$("$(sed -n 's/^CONTAINERD=//p' "$ctrd/env")" --version | awk '{ print $3 }')
echo "critest: $total specs, containerd $containerd_version ($ctrd), results in $out" >&2

# --- one critest process per spec, per handler -------------------------------------------------
for h in $handlers; do
  mkdir -p "$out/$h"
  : >"$out/$h.tsv"
  start=$(date +%s) n=0
  while IFS=$'\t' read -r loc text; do
    n=$((n + 1))
    t0=$(date +%s)
    # focus-file takes FILE_REGEX:LINE; the file name is a literal path, so escape its dots.
    rc=0
    timeout -s INT -k 30 "$spec_timeout" "$CRITEST" -runtime-endpoint "$endpoint" -runtime-handler="$h" \
      -ginkgo.no-color -ginkgo.v -ginkgo.focus-file="${loc//./\\.}" </dev/null >"$out/$h/$n.log" 2>&1 || rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status=TIMEOUT
    elif [ "$rc" -eq 0 ] && grep -q '^Ran 1 of' "$out/$h/$n.log"; then status=PASS
    elif [ "$rc" -eq 0 ] && grep -q '^Ran 0 of' "$out/$h/$n.log"; then status=SKIP
    else status=FAIL; fi
    printf '%s\t%s\t%s\t%s\n' "$status" "$(($(date +%s) - t0))" "$n" "$text" >>"$out/$h.tsv"
    printf '[%s %d/%d] %s %ss %s\n' "$h" "$n" "$total" "$status" "$(($(date +%s) - t0))" "$text" >&2
  done <"$out/specs.tsv"
  echo "$(($(date +%s) - start))" >"$out/$h.seconds"
done

echo "critest on containerd $containerd_version:"
for h in $handlers; do
  printf '  %-5s %3d/%d passed, %d skipped (by critest: a feature the runtime does not announce) in %ss\n' "$h" \
    "$(grep -c '^PASS' "$out/$h.tsv" || true)" "$total" "$(grep -c '^SKIP' "$out/$h.tsv" || true)" "$(cat "$out/$h.seconds")"
done
set -- $handlers
if [ $# -ge 2 ]; then
  echo "specs whose result differs ($1 vs $2):"
  paste "$out/$1.tsv" "$out/$2.tsv" | awk -F'\t' '$1 != $5 { printf "  %-7s %-7s %s\n", $1, $5, $4 }'
fi
