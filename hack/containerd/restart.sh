#!/usr/bin/env bash
# Restarts the containerd of a private instance started by start.sh, as an operator's `systemctl restart containerd`
# would: SIGTERM (shims and their tasks keep running; containerd 1.6/1.7 reconnect to them through each bundle's
# `address` file when they start again), then the same binary, config and log, and waits until it answers.
#   hack/containerd/restart.sh DIR
# Updates CC_CONTAINERD_PID in DIR/env. Exits non-zero if containerd does not stop within 20 s or answer within 30 s.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
cc_load "$dir"
cc_bins "$CC_CONTAINERD_VERSION"

if kill -0 "$CC_CONTAINERD_PID" 2>/dev/null; then
  kill -TERM "$CC_CONTAINERD_PID"
  for _ in $(seq 1 100); do
    # A zombie counts as gone (its parent, start.sh's subshell, is gone too; init reaps it).
    kill -0 "$CC_CONTAINERD_PID" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$CC_CONTAINERD_PID/stat" 2>/dev/null)" != Z ] || break
    sleep 0.2
  done
  if kill -0 "$CC_CONTAINERD_PID" 2>/dev/null && [ "$(awk '{ print $3 }' "/proc/$CC_CONTAINERD_PID/stat" 2>/dev/null)" != Z ]; then
    echo "containerd $CC_CONTAINERD_PID did not stop within 20 s of SIGTERM" >&2
    exit 1
  fi
fi

(
  cd "$dir"
  PATH=$cc_repo/build/bin:$SHIM_DIR:$PATH exec setsid "$CONTAINERD" --config "$dir/config.toml" \
    </dev/null >>"$CC_CONTAINERD_LOG" 2>&1
) &
pid=$!
sed -i "s/^CC_CONTAINERD_PID=.*/CC_CONTAINERD_PID=$pid/" "$dir/env"

for _ in $(seq 1 150); do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "containerd exited while restarting; last lines of $CC_CONTAINERD_LOG:" >&2
    tail -n 20 "$CC_CONTAINERD_LOG" >&2
    exit 1
  fi
  if [ -S "$CONTAINERD_ADDRESS" ] && timeout 5 "$CTR" --address "$CONTAINERD_ADDRESS" version >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.2
done
echo "containerd did not answer on $CONTAINERD_ADDRESS within 30 s of the restart" >&2
exit 1
