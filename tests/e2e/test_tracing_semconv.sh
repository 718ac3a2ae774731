#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Spans as the OpenTelemetry SDKs and W3C Trace Context say them: a caller's
# traceparent with flags 00 exports nothing (a 500 included) while metrics
# still count the request; tracestate and the remote-parent flag bits are
# exported; a PURGE is counted and traced as _OTHER; a response cut by a close
# before its Content-Length, or by a reset, is an ERROR with error.type on
# both sides, ending at the close, not at the response head; the HTTP
# attributes per side and the resource.
. "$(dirname "$0")/lib.sh"
setup_base
RECV_PORT=$((API_PORT + 1))
for w in web client; do mkdir -p "$CG/$w"; done
cat > "$CONF/web.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  addresses: ["127.100.1.1"]
  ports: [{name: http, port: 80, targetPort: 18120}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: web}
spec: {service: web, cgroup: bpfmesh-test-$ID/web}
---
# curl sends its own traceparent below, which would mark it SDK-instrumented
# (no bpfmesh CLIENT spans): "false" keeps bpfmesh's spans for it
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: client}
spec:
  addresses: ["127.100.1.2"]
  ports: [{name: http, port: 80, targetPort: 18121}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: client}
spec: {service: client, cgroup: bpfmesh-test-$ID/client, tracing: {instrumented: "false"}}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", timeout: 1s}
  sampling: {ratio: 1.0, alwaysSampleErrors: true}
  tracing: {redactQuery: false}
YAML
"$E2E/otlp_receiver" --port "$RECV_PORT" > "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
RECV=$!; PIDS+=($RECV)
( echo $BASHPID > "$CG/web/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	"$E2E/httpsvc" --name web --listen 127.0.0.1:18120 ) > "$TMP/web.out" 2>&1 &
PIDS+=($!)
start_agent
wait_for "httpsvc web listens" 30 grep -q ready "$TMP/web.out"
client() { ( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" ); }

T00=11111111111111111111111111111111 T01=22222222222222222222222222222222 PSPAN=00f067aa0ba902b7
client curl -s -o /dev/null -H "traceparent: 00-$T00-$PSPAN-00" http://127.100.1.1/_status/500
client curl -s -o /dev/null -H "traceparent: 00-$T01-$PSPAN-01" -H "tracestate: vendor=a1,other=b2" \
	-A "semconv-test/1.0" "http://127.100.1.1/items/7?color=red&sig=abc"
# a pooled connection (open while the agent reads its request), with a Host
# that is not the service address
client python3 -c '
import http.client, time
c = http.client.HTTPConnection("127.100.1.1", 80)
c.request("GET", "/host", headers={"Host": "shop.example:8080"})
c.getresponse().read()
time.sleep(1)
c.close()'
# the same Host on a connection that closes at once, long before the agent
# reads its request: capture tells the service address with the request
client curl -s -o /dev/null -H "Host: shop.example:8080" http://127.100.1.1/hostshort
client curl -s -o /dev/null -X PURGE http://127.100.1.1/cache/x
# cut after 10 of 100 bytes, 40 ms after the head: by a close, by a reset
client curl -s -o /dev/null http://127.100.1.1/_cut/40
client curl -s -o /dev/null http://127.100.1.1/_reset/40
# a sampled root request last: once it is in, everything before was decided
client curl -s -o /dev/null http://127.100.1.1/last
sp_count() { grep -c "$1" "$TMP/spans.jsonl"; }
last_in() { [ "$(sp_count '"url.path":"/last"')" -ge 2 ]; }
wait_for "the spans of the last request exported" 60 last_in
sleep 1 # a batch behind it

# one span of kind K whose url.path is P, as JSON, for python below
span() { grep "\"kind\":$1," "$TMP/spans.jsonl" | grep "\"url.path\":\"$2\"" | head -n 1; }
jget() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

# flags 00: nothing of that trace, the 500 included; metrics still count it
expect_eq "flags 00 + 500: no span of the trace exported" 0 "$(sp_count "\"trace_id\":\"$T00\"")"
metric() {
	api_curl -sf "http://$API/metrics" | grep "^$1{" | grep "service_name=\"web\"" | grep "$2" |
		awk '{s += $2} END {print s + 0}'
}
expect_range "flags 00 + 500: counted in http_server_request_duration_seconds" 1 100 \
	"$(metric http_server_request_duration_seconds_count 'http_response_status_code="500"')"

# flags 01: tracestate, sampled, the parent remote (0x100 | 0x200 | 0x01)
S=$(span 2 /items/7)
C=$(span 3 /items/7)
expect_eq "flags 01: SERVER span in the caller's trace" "$T01" "$(jget "$S" 'd["trace_id"]')"
expect_eq "tracestate exported (CLIENT)" "vendor=a1,other=b2" "$(jget "$C" 'd["trace_state"]')"
expect_eq "CLIENT flags: sampled, parent remote and known" 769 "$(jget "$C" 'd["flags"]')"
expect_eq "SERVER flags: sampled, parent's remoteness known" 257 "$(jget "$S" 'd["flags"] & 0x1ff')"
expect_eq "url.query" "color=red&sig=REDACTED" "$(jget "$S" 'd["attributes"]["url.query"]')"
expect_eq "url.scheme" http "$(jget "$S" 'd["attributes"]["url.scheme"]')"
expect_eq "user_agent.original" "semconv-test/1.0" "$(jget "$S" 'd["attributes"]["user_agent.original"]')"
expect_eq "network.protocol.version" "1.1" "$(jget "$S" 'd["attributes"]["network.protocol.version"]')"
expect_eq "SERVER server.address from Host" "127.100.1.1" "$(jget "$S" 'd["attributes"]["server.address"]')"
expect_eq "CLIENT server.* the service address" "127.100.1.1:80" \
	"$(jget "$C" 'd["attributes"]["server.address"] + ":" + str(d["attributes"]["server.port"])')"
expect_eq "CLIENT network.peer.* the endpoint" "127.0.0.1:18120" \
	"$(jget "$C" 'd["attributes"]["network.peer.address"] + ":" + str(d["attributes"]["network.peer.port"])')"
expect_eq "CLIENT url.full" "http://127.100.1.1/items/7?color=red&sig=REDACTED" "$(jget "$C" 'd["attributes"]["url.full"]')"
expect_eq "resource telemetry.sdk.name" bpfmesh "$(jget "$S" 'd["resource"]["telemetry.sdk.name"]')"
expect_eq "resource process.executable.name (SERVER)" httpsvc "$(jget "$S" 'd["resource"]["process.executable.name"]')"
expect_eq "resource os.type" linux "$(jget "$S" 'd["resource"]["os.type"]')"
expect_eq "resource has process.pid, host.arch, service.instance.id, telemetry.sdk.version" True \
	"$(jget "$S" 'all(k in d["resource"] for k in ("process.pid", "host.arch", "service.instance.id", "telemetry.sdk.version"))')"

# a Host other than the service address: the SERVER names the Host, the
# CLIENT the service address it connected to (the load balancer's original
# destination) and its URL the Host
S=$(span 2 /host)
C=$(span 3 /host)
expect_eq "SERVER server.* from Host" "shop.example:8080" \
	"$(jget "$S" 'd["attributes"]["server.address"] + ":" + str(d["attributes"]["server.port"])')"
expect_eq "CLIENT server.* the service address, whatever Host says" "127.100.1.1:80" \
	"$(jget "$C" 'd["attributes"]["server.address"] + ":" + str(d["attributes"]["server.port"])')"
expect_eq "CLIENT url.full from Host" "http://shop.example:8080/host" "$(jget "$C" 'd["attributes"]["url.full"]')"
C=$(span 3 /hostshort)
expect_eq "CLIENT server.* the service address, a connection closed before it was read" \
	"127.100.1.1:80" \
	"$(jget "$C" 'd["attributes"]["server.address"] + ":" + str(d["attributes"]["server.port"])')"

# PURGE: _OTHER with the original, named HTTP, counted
S=$(span 2 /cache/x)
expect_eq "PURGE: http.request.method" _OTHER "$(jget "$S" 'd["attributes"]["http.request.method"]')"
expect_eq "PURGE: http.request.method_original" PURGE "$(jget "$S" 'd["attributes"]["http.request.method_original"]')"
expect_eq "PURGE: span name" "HTTP /cache/x" "$(jget "$S" 'd["name"]')"
expect_range "PURGE: counted as _OTHER" 1 100 \
	"$(metric http_server_request_duration_seconds_count 'http_request_method="_OTHER"')"

# cut responses: ERROR and error.type on both sides, ending at their last
# byte, 40 ms after the head: not at the head, not at the close (240 ms)
for p in /_cut/40 /_reset/40; do
	for k in 2 3; do
		X=$(span $k $p)
		side=$([ $k = 2 ] && echo SERVER || echo CLIENT)
		expect_eq "$p $side: status ERROR" 2 "$(jget "$X" 'd["status_code"]')"
		expect_eq "$p $side: error.type set" True "$(jget "$X" '"error.type" in d["attributes"]')"
		expect_range "$p $side: duration ms (to the last byte)" 38 200 \
			"$(jget "$X" '(d["end_unix_ns"] - d["start_unix_ns"]) // 1000000')"
	done
done
log "error.type: cut $(jget "$(span 3 /_cut/40)" 'd["attributes"]["error.type"]'), reset $(jget "$(span 3 /_reset/40)" 'd["attributes"]["error.type"]') (CLIENT)"
finish
