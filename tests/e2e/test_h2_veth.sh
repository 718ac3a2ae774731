#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# HTTP/2 through tc capture: nghttpd and its clients each in a network
# namespace ("pod") behind a veth pair, in cgroups the agent is NOT attached
# to, so only the tc programs on the host-side veths (Workload.interfaces)
# see their frames, keyed by the 4-tuple. nghttp with distinct paths at once
# on one connection and h2load with 16 streams in flight on each of two
# connections: one SERVER and one CLIENT span per request, paths and
# statuses right, no request on a desynchronised connection. Each request
# crosses two captured veths (the client's and the server's): the agent
# follows every stream twice.
AGENT_NETNS=1
. "$(dirname "$0")/lib.sh"
setup_base
N=8
H2N=${H2N:-200}
RECV_PORT=$((API_PORT + 1))
PODCG="$CGROOT/bpfmesh-test-$ID-pods"
EXTRA_CG=("$PODCG")
command -v nghttpd >/dev/null && command -v h2load >/dev/null ||
	{ fail "nghttpd and h2load are needed (make deps)"; finish; }
in_ns sysctl -qw net.ipv4.ip_forward=1
i=0
for w in srv client; do
	i=$((i + 1))
	ns="bmt-$ID-$w"; EXTRA_NS+=("$ns")
	mkdir -p "$PODCG/$w"
	ip netns add "$ns"
	ip link add "bmh$ID$i" netns "$NS" type veth peer name eth0 netns "$ns"
	ip -n "$NS" addr add "10.79.$i.1/24" dev "bmh$ID$i"
	ip -n "$NS" link set "bmh$ID$i" up
	ip -n "$ns" addr add "10.79.$i.2/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" route add default via "10.79.$i.1"
done
in_pod() { local w=$1; shift; ( echo $BASHPID > "$PODCG/$w/cgroup.procs" && exec nsenter --net="/run/netns/bmt-$ID-$w" "$@" ); }
{ service_yaml h2web 127.100.4.1 80 8080 - 10.79.1.2; echo ---
  service_yaml h2client 127.100.4.2 80 8080 -; } > "$CONF/h2.yaml"
i=0
for w in h2web h2client; do
	i=$((i + 1))
	cat >> "$CONF/h2.yaml" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: $w}
spec: {service: $w, cgroup: bpfmesh-test-$ID-pods/$([ $i = 1 ] && echo srv || echo client), interfaces: [bmh$ID$i]}
YAML
done
cat > "$CONF/telemetry.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", timeout: 2s}
  sampling: {ratio: 1.0}
YAML
mkdir -p "$TMP/www"
for i in $(seq $N); do head -c $((i * 3000)) /dev/zero > "$TMP/www/f$i"; done
echo hello > "$TMP/www/load"
( exec nsenter --net="/run/netns/$NS" "$E2E/otlp_receiver" --port "$RECV_PORT" ) \
	> "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
PIDS+=($!)
( in_pod srv nghttpd --no-tls -d "$TMP/www" 8080 ) > "$TMP/nghttpd.out" 2>&1 &
PIDS+=($!)
start_agent
wait_log "HTTP capture attached to bmh${ID}2"
listening() { nsenter --net="/run/netns/bmt-$ID-srv" ss -Hltn "sport = :8080" | grep -q LISTEN; }
wait_for "nghttpd listens" 30 listening
urls=$(for i in $(seq $N); do printf 'http://10.79.1.2:8080/f%d ' "$i"; done)
in_pod client nghttp -n $urls http://10.79.1.2:8080/missing > "$TMP/nghttp.out" 2>&1
in_pod client h2load -c 2 -m 16 -n "$H2N" http://10.79.1.2:8080/load > "$TMP/h2load.out" 2>&1
expect_eq "h2load: requests succeeded" "$H2N" \
	"$(awk '/^requests:/ { for (i = 1; i < NF; i++) if ($(i + 1) == "succeeded,") print $i }' "$TMP/h2load.out")"
T=$((N + 1 + H2N))
for _ in $(seq 60); do
	[ "$(grep -c '^{' "$TMP/spans.jsonl")" -ge $((2 * T)) ] && break
	sleep 0.25
done
/usr/bin/python3 - "$TMP/spans.jsonl" > "$TMP/check.out" <<'PY'
import json, sys, collections
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
def at(s, k): return s["attributes"].get(k)
by = collections.Counter((s["resource"].get("service.name"), s["kind"]) for s in spans)
for (svc, kind), c in sorted(by.items()):
    print("count", svc, kind, c)
srv = [s for s in spans if s["kind"] == 2 and s["resource"].get("service.name") == "h2web"]
paths = collections.Counter(at(s, "url.path") for s in srv)
print("load", paths.get("/load", 0))
print("files", sum(1 for p in paths if p.startswith("/f")))
print("missing_status", next((at(s, "http.response.status_code") for s in srv if at(s, "url.path") == "/missing"), None))
print("proto", next((at(s, "network.protocol.version") for s in srv), None))
print("peer", next((at(s, "client.address") for s in srv), None))
PY
sed 's/^/  /' "$TMP/check.out"
val() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/check.out"; }
cnt() { awk -v s="$1" -v k="$2" '$1 == "count" && $2 == s && $3 == k { print $4 }' "$TMP/check.out"; }
expect_eq "h2web SERVER spans" "$T" "$(cnt h2web 2)"
expect_eq "h2client CLIENT spans" "$T" "$(cnt h2client 3)"
expect_eq "h2load requests" "$H2N" "$(val load)"
expect_eq "nghttp paths" "$N" "$(val files)"
expect_eq "status of a missing file" 404 "$(val missing_status)"
expect_eq "network.protocol.version" 2 "$(val proto)"
expect_eq "client.address" 10.79.2.2 "$(val peer)"
api_curl -sf "http://$API/api/v1/config" > "$TMP/config.json"
read -r desync reqs < <(/usr/bin/python3 -c '
import json, sys
h = json.load(open(sys.argv[1]))["tracing"]["http2"]
print(h["desyncRequests"], h["requests"])' "$TMP/config.json")
expect_eq "requests on desynchronised connections" 0 "$desync"
expect_eq "HTTP/2 requests followed (each on two veths)" $((2 * T)) "$reqs"
finish
