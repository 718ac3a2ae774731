# SPDX-License-Identifier: Apache-2.0
# kubelib.sh: for the agent's Kubernetes tests (test_kube_*.sh), after lib.sh:
# a fake API server (fake_kube.py) on 127.0.0.1, a kubeconfig that points at
# it, and the objects the tests apply. The server is one of the test's
# PIDS, so lib.sh's cleanup ends it on every exit path.
FAKE="$ROOT/tests/e2e/fake_kube.py"
KUBECONFIG_T="$TMP/kubeconfig"

# start_fake: sets KAPI_PORT and CTL, writes the kubeconfig
start_fake() {
	rm -f "$TMP/fake.ready"
	python3 "$FAKE" --ready-file "$TMP/fake.ready" --bookmark-interval 1 "$@" \
		>> "$TMP/fake.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 200); do [ -s "$TMP/fake.ready" ] && break; sleep 0.05; done
	read -r KAPI_PORT CTL_PORT < "$TMP/fake.ready" || { fail "fake_kube did not start"; cat "$TMP/fake.log"; finish; }
	CTL="http://127.0.0.1:$CTL_PORT"
	cat > "$KUBECONFIG_T" <<KC
apiVersion: v1
kind: Config
current-context: test
contexts:
- name: test
  context: {cluster: fake, user: agent}
clusters:
- name: fake
  cluster: {server: "http://127.0.0.1:$KAPI_PORT"}
users:
- name: agent
  user: {token: test-token}
KC
}
ctl() { curl -sf -X POST "$CTL/$1" -d "${2:-{\}}" >/dev/null || fail "fake_kube control $1 failed"; }
kapply() { ctl apply "$1"; }

# k8s_svc NS NAME CLUSTERIP PORT TARGETPORT [SELECTOR-APP]
k8s_svc() {
	local sel=""
	[ -n "${6:-}" ] && sel=",\"selector\":{\"app\":\"$6\"}"
	echo "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\"},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"$3\",\"clusterIPs\":[\"$3\"],\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":$4,\"targetPort\":$5}]$sel}}"
}
# k8s_slice NS NAME SERVICE PORT ADDR:READY...  (READY true|false)
k8s_slice() {
	local ns=$1 name=$2 svc=$3 port=$4 eps="" e
	shift 4
	for e in "$@"; do
		eps="$eps${eps:+,}{\"addresses\":[\"${e%%:*}\"],\"conditions\":{\"ready\":${e##*:},\"serving\":true,\"terminating\":false}}"
	done
	echo "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"$name\",\"namespace\":\"$ns\",\"labels\":{\"kubernetes.io/service-name\":\"$svc\"}},\"addressType\":\"IPv4\",\"endpoints\":[$eps],\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":$port}]}"
}

# start_kube_agent ARGS...: the agent on the fake API server; ready once
# every resource was listed and the result applied
start_kube_agent() { start_agent --kubeconfig "$KUBECONFIG_T" --node-name node-1 "$@"; }

# kstatus EXPR: a Python expression over /api/v1/status's "kubernetes" object k
kstatus() {
	api_curl -sf "http://$API/api/v1/status" | python3 -c '
import json, sys
k = json.load(sys.stdin)["kubernetes"]
print(eval(sys.argv[1]))' "$1"
}

# kube_errors: bpfmesh_kube_watch_errors_total summed over the resources
kube_errors() {
	api_curl -sf "http://$API/metrics" |
		awk '/^bpfmesh_kube_watch_errors_total\{/ { s += $NF; f = 1 } END { print f ? s : "no-series" }'
}
