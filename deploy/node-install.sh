#!/usr/bin/env bash
# The installer container's entry point (deploy/cc-deploy.yaml), in the kata-deploy style:
#   node-install.sh install     hack/install.sh onto the node (its / is mounted at /host: DESTDIR=/host), restart the
#                               node's containerd so the CRI handler loads, label the node cc.io/runtime=true, then
#                               wait until the pod is stopped
#   node-install.sh uninstall   the DaemonSet pod's preStop hook: remove the label first (no new cc pods come here),
#                               hack/install.sh --uninstall, restart containerd
#   node-install.sh cleanup     uninstall, then wait: the cleanup DaemonSet (cc-cleanup.yaml) for nodes whose installer
#                               pod went without its preStop hook (force-deleted, node rebooted mid-delete)
# The install is the same script `make install` runs; this only adds what a cluster needs around it. Needs: a privileged
# pod with hostPID (nsenter into the node's PID 1 to run systemctl), NODE_NAME from the downward API, and a service
# account allowed to patch its node (the ClusterRole in cc-deploy.yaml).
set -euo pipefail
export DESTDIR=/host CC_BUILD=${CC_BUILD:-/opt/cc/build}
label=cc.io/runtime

# node_label <json value>: merge-patch the node's label through the API server with the pod's service account.
node_label() {
  local sa=/var/run/secrets/kubernetes.io/serviceaccount
  curl -fsS --cacert "$sa/ca.crt" -H "Authorization: Bearer $(cat "$sa/token")" \
    -H 'Content-Type: application/merge-patch+json' -X PATCH \
    -d "{\"metadata\":{\"labels\":{\"$label\":$1}}}" \
    "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api/v1/nodes/$NODE_NAME" >/dev/null
}

# Running pods survive the restart: each has its own shim, which containerd reconnects to.
restart_containerd() {
  echo "node-install: restarting containerd on $NODE_NAME" >&2
  nsenter --target 1 --mount --uts --ipc --net --pid -- systemctl restart containerd
}

case "${1:-install}" in
  install)
    bash /opt/cc/hack/install.sh --no-runtime-class
    restart_containerd
    node_label '"true"'
    echo "node-install: $NODE_NAME is ready for runtimeClassName: cc" >&2
    # The pod stays up so that deleting the DaemonSet runs the preStop hook (the uninstall).
    trap 'exit 0' TERM INT
    sleep infinity & wait ;;
  uninstall)
    node_label null || echo "node-install: could not remove the label $label from $NODE_NAME" >&2
    bash /opt/cc/hack/install.sh --uninstall --no-runtime-class
    restart_containerd ;;
  cleanup)
    "$0" uninstall
    echo "node-install: $NODE_NAME cleaned up; delete the cc-cleanup DaemonSet" >&2
    trap 'exit 0' TERM INT
    sleep infinity & wait ;;
  *) echo "usage: $0 install|uninstall|cleanup" >&2; exit 2 ;;
esac
