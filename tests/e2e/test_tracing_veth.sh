#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The three-service chain (gateway -> users -> orders) with every service and
# the client in its own network namespace ("pod") behind a veth pair, the way
# pods are reached. The pods' processes are in cgroups the agent is NOT
# attached to, so only tc capture on the host-side veths (Workload.interfaces)
# sees their HTTP; the agent runs in the "node" namespace that routes between
# the pods. N requests on one keep-alive connection and M on a connection
# each must make N + M traces of 6 spans with the right tree.
AGENT_NETNS=1
. "$(dirname "$0")/lib.sh"
setup_base
N=10
M=5
RECV_PORT=$((API_PORT + 1))
PODCG="$CGROOT/bpfmesh-test-$ID-pods"
EXTRA_CG=("$PODCG")
in_ns sysctl -qw net.ipv4.ip_forward=1 # the node namespace's own setting
i=0
for w in gateway users orders client; do
	i=$((i + 1))
	ns="bmt-$ID-$w"; EXTRA_NS+=("$ns")
	mkdir -p "$PODCG/$w"
	ip netns add "$ns"
	ip link add "bmv$ID$i" netns "$NS" type veth peer name eth0 netns "$ns"
	ip -n "$NS" addr add "10.78.$i.1/24" dev "bmv$ID$i"
	ip -n "$NS" link set "bmv$ID$i" up
	ip -n "$ns" addr add "10.78.$i.2/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" route add default via "10.78.$i.1"
done
# in_pod NAME CMD...: run in the pod's namespace and cgroup
in_pod() { local w=$1; shift; ( echo $BASHPID > "$PODCG/$w/cgroup.procs" && exec nsenter --net="/run/netns/bmt-$ID-$w" "$@" ); }

i=0
for w in gateway users orders; do
	i=$((i + 1))
	{ echo ---; service_yaml "$w" "127.100.2.$i" 80 8080 - "10.78.$i.2"; } >> "$CONF/shop.yaml"
done
# the client serves nothing; its Workload still names its spans
{ echo ---; service_yaml client 127.100.2.4 80 8080 -; } >> "$CONF/shop.yaml"
i=0
for w in gateway users orders client; do
	i=$((i + 1))
	cat >> "$CONF/shop.yaml" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: $w}
spec: {service: $w, cgroup: bpfmesh-test-$ID-pods/$w, interfaces: [bmv$ID$i]}
YAML
done
cat > "$CONF/telemetry.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", compression: gzip, timeout: 2s}
  sampling: {ratio: 1.0}
  routes: ["/api/v1/users/{id}"]
YAML
( exec nsenter --net="/run/netns/$NS" "$E2E/otlp_receiver" --port "$RECV_PORT" ) \
	> "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
PIDS+=($!)
svc() { # NAME [httpsvc args]
	local w=$1; shift
	( in_pod "$w" "$E2E/httpsvc" --name "$w" --listen 0.0.0.0:8080 "$@" ) > "$TMP/$w.out" 2>&1 &
	PIDS+=($!)
}
svc orders --delay-ms 3
svc users --upstream 10.78.3.2:8080
svc gateway --upstream 10.78.2.2:8080
start_agent
wait_log "HTTP capture attached to bmv${ID}4"
svcs_ready() { grep -q ready "$TMP/gateway.out" && grep -q ready "$TMP/users.out" && grep -q ready "$TMP/orders.out"; }
wait_for "the three services listen" 30 svcs_ready
urls=$(for i in $(seq $N); do printf 'http://10.78.1.2:8080/api/v1/users/%d ' "$i"; done)
in_pod client curl -s -o /dev/null -w '%{http_code}\n' $urls > "$TMP/codes" 2>&1
for i in $(seq $M); do
	in_pod client curl -s -o /dev/null -w '%{http_code}\n' "http://10.78.1.2:8080/api/v1/users/$((100 + i))"
done >> "$TMP/codes" 2>&1
T=$((N + M))
expect_eq "requests answered 200" "$T" "$(grep -c '^200$' "$TMP/codes")"
for _ in $(seq 60); do
	[ "$(grep -c '^{' "$TMP/spans.jsonl")" -ge $((6 * T)) ] && break
	sleep 0.25
done
python3 - "$TMP/spans.jsonl" > "$TMP/check.out" <<'PY'
import json, sys, collections
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
spans = [s for s in spans if s.get("kind") in (2, 3)]
for s in spans:
    s["kind"] = {2: "SERVER", 3: "CLIENT"}[s["kind"]]
by = collections.Counter((s["resource"].get("service.name"), s["kind"]) for s in spans)
for (svc, kind), c in sorted(by.items()):
    print("count", svc, kind, c)
traces = collections.defaultdict(list)
for s in spans:
    traces[s["trace_id"]].append(s)
print("traces", len(traces))
ok = 0
for ss in traces.values():
    def find(svc, kind):
        return [s for s in ss if s["resource"].get("service.name") == svc and s["kind"] == kind]
    try:
        cc, = find("client", "CLIENT"); gs, = find("gateway", "SERVER"); gc, = find("gateway", "CLIENT")
        us, = find("users", "SERVER"); uc, = find("users", "CLIENT"); os_, = find("orders", "SERVER")
    except ValueError:
        continue
    if (not cc["parent_span_id"].strip("0") and gs["parent_span_id"] == cc["span_id"]
            and gc["parent_span_id"] == gs["span_id"] and us["parent_span_id"] == gc["span_id"]
            and uc["parent_span_id"] == us["span_id"] and os_["parent_span_id"] == uc["span_id"]):
        ok += 1
print("good_trees", ok)
g = [s for s in spans if s["resource"].get("service.name") == "gateway" and s["kind"] == "SERVER"]
if g:
    a = g[0]["attributes"]
    print("gw_route", a.get("http.route"))
    print("gw_status", a.get("http.response.status_code"))
    print("gw_peer", a.get("client.address"))
o = [s for s in spans if s["resource"].get("service.name") == "orders" and s["kind"] == "SERVER"]
print("orders_min_us", int(min((s["end_unix_ns"] - s["start_unix_ns"]) / 1e3 for s in o)) if o else -1)
PY
sed 's/^/  /' "$TMP/check.out"
val() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/check.out"; }
cnt() { awk -v s="$1" -v k="$2" '$1 == "count" && $2 == s && $3 == k { print $4 }' "$TMP/check.out"; }
for w in gateway users orders; do expect_eq "$w SERVER spans" "$T" "$(cnt "$w" SERVER)"; done
for w in client gateway users; do expect_eq "$w CLIENT spans" "$T" "$(cnt "$w" CLIENT)"; done
expect_eq "traces (one per request)" "$T" "$(val traces)"
expect_eq "traces with the right tree" "$T" "$(val good_trees)"
expect_eq "http.route from the template" "/api/v1/users/{id}" "$(val gw_route)"
expect_eq "http.response.status_code" 200 "$(val gw_status)"
expect_eq "client.address of the gateway's requests" 10.78.4.2 "$(val gw_peer)"
expect_range "shortest orders SERVER span (us)" 3000 50000 "$(val orders_min_us)"
# every hop's request is seen twice, leaving the caller's veth and entering
# the callee's: 3 hops, 6 request heads per traced request, none more (the
# cgroup hooks saw nothing)
seen=$(api_curl -sf "http://$API/api/v1/config" | python3 -c '
import json, sys
t = json.load(sys.stdin)["tracing"]
print(t["requestsSeen"])')
expect_eq "request heads seen by capture" $((6 * T)) "$seen"
finish
