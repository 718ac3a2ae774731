#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Identity on every signal. Two services named web, in namespaces prod and
# staging, never share a series: /metrics (request histograms and the
# bpfmesh_* per-service families carry service_namespace) and
# /api/v1/services/{namespace}/{name}/latency answer for each alone. A pod
# (kind: Pod in a file, as `kubectl get pod -o yaml` writes it) whose
# process runs in a kubelet-style cgroup under the test's cgroup, found by
# the pod's UID, gets the Kubernetes resource attributes on its spans and
# its OTLP metrics (checked in an OTLP receiver).
. "$(dirname "$0")/lib.sh"
setup_base
RECV_PORT=$((API_PORT + 1))
UID_POD=6b1c2f0e-3a4d-4e5f-8a9b-0c1d2e3f4a5b
CID=9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d
POD_CG="kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_POD//-/_}.slice/cri-containerd-$CID.scope"
mkdir -p "$CG/prod-web" "$CG/staging-web" "$CG/client" "$CG/$POD_CG"
for ns in prod staging; do
	port=$([ $ns = prod ] && echo 18121 || echo 18122)
	vip=$([ $ns = prod ] && echo 127.100.2.1 || echo 127.100.2.2)
	cat > "$CONF/$ns.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web, namespace: $ns}
spec:
  addresses: ["$vip"]
  ports: [{name: http, port: 80, targetPort: $port}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: web, namespace: $ns}
spec: {service: web, cgroup: bpfmesh-test-$ID/$ns-web}
YAML
done
cat > "$CONF/pod.yaml" <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: api-7c9f8d6b5d-x2kqp
  namespace: shop
  uid: $UID_POD
  labels: {app.kubernetes.io/name: api, pod-template-hash: 7c9f8d6b5d}
  ownerReferences:
  - {apiVersion: apps/v1, kind: ReplicaSet, name: api-7c9f8d6b5d, controller: true, uid: 1d2c3b4a-0000-4000-8000-000000000001}
spec:
  nodeName: e2e-node
  containers: [{name: api, image: example/api:1}]
status:
  phase: Running
  podIP: 127.0.0.1
  containerStatuses:
  - {name: api, containerID: "containerd://$CID", ready: true, restartCount: 0, image: example/api:1, imageID: x}
YAML
cat > "$CONF/telemetry.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", timeout: 1s, metricsInterval: 1s}
YAML
"$E2E/otlp_receiver" --port "$RECV_PORT" --metrics-out "$TMP/metrics.jsonl" \
	> "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
PIDS+=($!)
serve() { # CGROUP NAME PORT
	( echo $BASHPID > "$CG/$1/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
		"$E2E/httpsvc" --name "$2" --listen "127.0.0.1:$3" ) > "$TMP/$2.out" 2>&1 &
	PIDS+=($!)
}
serve prod-web web-prod 18121
serve staging-web web-staging 18122
serve "$POD_CG" api 18123
start_agent
for s in web-prod web-staging api; do wait_for "httpsvc $s listens" 30 grep -q ready "$TMP/$s.out"; done
client() { ( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" ); }
client curl -s -o /dev/null http://127.100.2.1/a/1 http://127.100.2.1/a/2 http://127.100.2.1/a/3
client curl -s -o /dev/null http://127.100.2.2/a/1 http://127.100.2.2/a/2 http://127.100.2.2/a/3 \
	http://127.100.2.2/a/4 http://127.100.2.2/a/5
client curl -s -o /dev/null http://127.0.0.1:18123/pod/1 http://127.0.0.1:18123/pod/2

# ---- Prometheus: one series per (namespace, name) ----
prom_count() { # NS: the server histogram's request count of web in NS
	api_curl -sf "http://$API/metrics" | awk -v ns="$1" '
		/^http_server_request_duration_seconds_count\{/ && index($0, "service_name=\"web\"") &&
		index($0, "service_namespace=\"" ns "\"") { n += $NF } END { print n + 0 }'
}
counted() { [ "$(prom_count prod)" -ge 3 ] && [ "$(prom_count staging)" -ge 5 ] &&
	api_curl -sf "http://$API/metrics" | grep -q '^http_server_request_duration_seconds_count{service_name="api".* 2$'; }
wait_for "requests of both namespaces and the pod in /metrics" 30 counted
api_curl -sf "http://$API/metrics" > "$TMP/metrics.txt"
expect_eq "prod/web server requests in /metrics" 3 "$(prom_count prod)"
expect_eq "staging/web server requests in /metrics" 5 "$(prom_count staging)"
expect_eq "no web series without a namespace" 0 "$(grep '^http_server_request_duration_seconds_count{service_name="web"' "$TMP/metrics.txt" | grep -vc service_namespace)"
expect_eq "LB selections of prod/web and staging/web apart" 2 "$(grep -c '^bpfmesh_lb_selections_total{service_name="web",service_namespace="\(prod\|staging\)"' "$TMP/metrics.txt")"
expect_eq "breaker state per namespace" 2 "$(grep -c '^bpfmesh_breaker_state{service_name="web",service_namespace="\(prod\|staging\)",state="closed"} 1' "$TMP/metrics.txt")"
expect_eq "the pod's requests under its namespace" 1 "$(grep -c '^http_server_request_duration_seconds_count{service_name="api",service_namespace="shop".* 2$' "$TMP/metrics.txt")"

# ---- latency API: /api/v1/services/{namespace}/{name}/latency ----
lat() { api_curl -s "http://$API/api/v1/services/$1/latency" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["namespace"], d["server"]["requests"] if d["server"] else 0)'; }
expect_eq "latency of prod/web" "prod 3" "$(lat prod/web)"
expect_eq "latency of staging/web" "staging 5" "$(lat staging/web)"
expect_eq "latency of shop/api (the pod)" "shop 2" "$(lat shop/api)"
expect_eq "web alone is default/web: none" 404 "$(api_curl -s -o /dev/null -w '%{http_code}' "http://$API/api/v1/services/web/latency")"
expect_eq "the service view of staging/web" staging "$(api_curl -sf "http://$API/api/v1/services/staging/web" | python3 -c 'import json,sys; print(json.load(sys.stdin)["namespace"])')"

# ---- OTLP: the pod's spans and metrics carry its Kubernetes identity ----
pod_spans() { grep -c '"url.path":"/pod/' "$TMP/spans.jsonl" 2>/dev/null; }
two_spans() { [ "$(pod_spans)" -ge 2 ]; }
wait_for "the pod's SERVER spans at the receiver" 30 two_spans
grep '"kind":2' "$TMP/spans.jsonl" > "$TMP/server.jsonl"
res() { # PATH-PREFIX KEY: the resource attribute KEY of the first SERVER span on PATH
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    s = json.loads(line)
    if s["attributes"].get("url.path", "").startswith(sys.argv[2]):
        print(s["resource"].get(sys.argv[3], "<absent>")); break' "$TMP/server.jsonl" "$1" "$2"; }
expect_eq "service.name of the pod" api "$(res /pod/ service.name)"
expect_eq "service.namespace of the pod" shop "$(res /pod/ service.namespace)"
expect_eq "k8s.namespace.name" shop "$(res /pod/ k8s.namespace.name)"
expect_eq "k8s.pod.name" api-7c9f8d6b5d-x2kqp "$(res /pod/ k8s.pod.name)"
expect_eq "k8s.pod.uid" "$UID_POD" "$(res /pod/ k8s.pod.uid)"
expect_eq "k8s.container.name (from the runtime scope)" api "$(res /pod/ k8s.container.name)"
expect_eq "k8s.node.name" e2e-node "$(res /pod/ k8s.node.name)"
expect_eq "k8s.deployment.name (ReplicaSet less the pod-template-hash)" api "$(res /pod/ k8s.deployment.name)"
expect_eq "service.instance.id" "$UID_POD/api" "$(res /pod/ service.instance.id)"
expect_eq "a Workload that is no pod: no k8s.pod.name" "<absent>" "$(res /a/ k8s.pod.name)"
expect_eq "two namespaces of web: two resources" 2 "$(python3 -c '
import json, sys
print(len({(s["resource"].get("service.name"), s["resource"].get("service.namespace"))
           for s in map(json.loads, open(sys.argv[1])) if s["resource"].get("service.name") == "web"}))' "$TMP/server.jsonl")"
metrics_pod() { grep -c '"k8s.pod.uid":"'"$UID_POD"'"' "$TMP/metrics.jsonl" 2>/dev/null; }
pod_metrics() { [ "$(metrics_pod)" -ge 1 ]; }
wait_for "the pod's OTLP metrics at the receiver" 30 pod_metrics
expect_eq "OTLP metrics of the pod: k8s.pod.name on its resource" 1 "$(grep '"name":"http.server.request.duration"' "$TMP/metrics.jsonl" | grep -c -m1 '"k8s.pod.name":"api-7c9f8d6b5d-x2kqp"')"
expect_eq "OTLP metrics of staging/web under service.namespace staging" 1 "$(grep '"name":"http.server.request.duration"' "$TMP/metrics.jsonl" | grep '"service.name":"web"' | grep -c -m1 '"service.namespace":"staging"')"
finish
