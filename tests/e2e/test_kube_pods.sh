#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Pods of this node from the Kubernetes API (tests/e2e/fake_kube.py) get
# their identity from their cgroups: cgroups named as the kubelet names them
# (systemd driver with a containerd scope; cgroupfs driver), made under the
# test's own cgroup after the agent started, are found, and the traffic of
# the processes in them is the pod's service (app label) in /metrics and on
# the SERVER spans an OTLP receiver gets. A pod added while the agent runs
# gets its identity too; a pod of another node is not watched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kubelib.sh"
setup_base
RECV_PORT=$((API_PORT + 1))
U1=6c1f7a52-0b7e-4d4b-9f3e-2a8f1d0c9e11
U2=6c1f7a52-0b7e-4d4b-9f3e-2a8f1d0c9e22
CID=4a3bd56f0e1e7d8c0b2f8a9e6d5c4b3a29181716151413121110090807060504
# systemd driver, Burstable; cgroupfs driver, BestEffort
POD1_CG="$CG/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${U1//-/_}.slice"
POD2_CG="$CG/kubepods/besteffort/pod$U2"
mkdir -p "$CG/client"

# k8s_pod NS NAME UID NODE APP IP
k8s_pod() {
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\",\"uid\":\"$3\",\"labels\":{\"app\":\"$5\"}},\"spec\":{\"nodeName\":\"$4\",\"containers\":[{\"name\":\"main\",\"image\":\"x\"}]},\"status\":{\"phase\":\"Running\",\"podIP\":\"$6\",\"podIPs\":[{\"ip\":\"$6\"}],\"containerStatuses\":[{\"name\":\"main\",\"containerID\":\"containerd://$CID\"}]}}"
}
cat > "$CONF/telemetry.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", timeout: 1s}
YAML
"$E2E/otlp_receiver" --port "$RECV_PORT" > "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
PIDS+=($!)

start_fake
kapply '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}}'
kapply "$(k8s_svc prod web 127.100.0.20 80 18110 shopfront)"
kapply "$(k8s_slice prod web-a web 18110 127.0.0.1:true)"
kapply "$(k8s_svc prod cart 127.100.0.21 80 18111 cart)"
kapply "$(k8s_slice prod cart-a cart 18111 127.0.0.2:true)"
kapply "$(k8s_pod prod shop-1 $U1 node-1 shopfront 127.0.0.1)"
kapply "$(k8s_pod prod elsewhere-1 6c1f7a52-0b7e-4d4b-9f3e-2a8f1d0c9e33 node-2 other 127.0.0.9)"
start_kube_agent
expect_eq "a pod whose cgroup is not made yet" 1 "$(kstatus 'k["podsWithoutCgroup"]')"
expect_eq "pods watched: this node's only" 1 "$(kstatus 'k["resources"]["pods"]["objects"]')"

# the kubelet makes the pod's cgroup and the runtime its container's scope
mkdir -p "$POD1_CG/cri-containerd-$CID.scope"
( echo $BASHPID > "$POD1_CG/cri-containerd-$CID.scope/cgroup.procs" &&
	exec nsenter --net="/run/netns/$NS" "$E2E/httpsvc" --name shop --listen 127.0.0.1:18110 ) \
	> "$TMP/shop.out" 2>&1 &
PIDS+=($!)
no_pods_waiting() { [ "$(kstatus 'k["podsWithoutCgroup"]' 2>/dev/null)" = 0 ]; }
wait_for "the pod's cgroup is found" 10 no_pods_waiting
wait_for "httpsvc shop listens" 30 grep -q ready "$TMP/shop.out"
client() { ( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" ); }
for i in $(seq 10); do client curl -s -o /dev/null -H 'Connection: close' "http://127.100.0.20/items/$i"; done

# count_server SERVICE: SERVER requests of SERVICE in /metrics
count_server() {
	api_curl -sf "http://$API/metrics" |
		awk -v s="service_name=\"$1\"" '/^http_server_request_duration_seconds_count\{/ && index($0, s) { n += $NF } END { print n + 0 }'
}
ten_for() { [ "$(count_server "$1")" -ge 10 ]; }
wait_for "/metrics: 10 SERVER requests of the pod's service shopfront" 20 ten_for shopfront
expect_eq "/metrics: SERVER requests filed under the Kubernetes Service's name instead" 0 "$(count_server web)"
# spans_of SERVICE: SERVER spans with resource service.name SERVICE
spans_of() { python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue  # the receiver line "ready"
    s = json.loads(line)
    n += s["kind"] == 2 and s["resource"].get("service.name") == sys.argv[2]
print(n)' "$TMP/spans.jsonl" "$1"; }
ten_spans() { [ "$(spans_of "$1")" -ge 10 ]; }
wait_for "OTLP: 10 SERVER spans of shopfront" 20 ten_spans shopfront

log "a pod added while the agent runs (cgroupfs driver)"
mkdir -p "$POD2_CG/$CID"
( echo $BASHPID > "$POD2_CG/$CID/cgroup.procs" &&
	exec nsenter --net="/run/netns/$NS" "$E2E/httpsvc" --name cart --listen 127.0.0.2:18111 ) \
	> "$TMP/cart.out" 2>&1 &
PIDS+=($!)
kapply "$(k8s_pod prod cart-1 $U2 node-1 cart 127.0.0.2)"
two_pods() { [ "$(kstatus 'k["resources"]["pods"]["objects"]')" = 2 ] && no_pods_waiting; }
wait_for "the new pod is watched and its cgroup found" 10 two_pods
wait_for "httpsvc cart listens" 30 grep -q ready "$TMP/cart.out"
for i in $(seq 10); do client curl -s -o /dev/null -H 'Connection: close' "http://127.100.0.21/cart/$i"; done
wait_for "/metrics: 10 SERVER requests of the new pod's service cart" 20 ten_for cart
wait_for "OTLP: 10 SERVER spans of cart" 20 ten_spans cart
expect_eq "Kubernetes errors" 0 "$(kstatus 'sum(r["errors"] for r in k["resources"].values())')"
finish
