#!/usr/bin/env bash
# Runs the matching ctr against a private containerd started by start.sh:
#   hack/containerd/ctr.sh DIR [ctr args...]      e.g. hack/containerd/ctr.sh /tmp/cc-ctrd.x images ls
# For the commands that create stdio FIFOs (run, task start, task exec) it adds --fifo-dir DIR/fifo,
# so they stay out of the shared /run/containerd/fifo and leftovers are visible to the tests.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || { echo "usage: $0 DIR [ctr args...]" >&2; exit 2; }
cc_load "$1"
shift

# Split global flags (-n NS, --namespace NS, --debug, ...) from the command words.
global=()
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--namespace|--timeout|--connect-timeout) global+=("$1" "$2"); shift 2 ;;
    -*) global+=("$1"); shift ;;
    *) break ;;
  esac
done
words=()
case "${1:-} ${2:-}" in
  "run "*) words=("$1"); shift ;;
  "t start"|"t exec"|"task start"|"task exec"|"tasks start"|"tasks exec") words=("$1" "$2"); shift 2 ;;
esac
if [ ${#words[@]} -gt 0 ]; then words+=(--fifo-dir "$CC_FIFO_DIR"); fi
exec "$CTR" --address "$CONTAINERD_ADDRESS" "${global[@]}" "${words[@]}" "$@"
