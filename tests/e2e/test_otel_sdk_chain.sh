#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The chain of test_otel_sdk.sh with traceparent injection on (Telemetry
# propagation.inject: true; the self-test ignored, as test_inject.sh does
# where this host's kernel fails it): curl (in the mesh, no SDK) -> A
# (Node.js with the OpenTelemetry SDK, calling B through B's service
# address) -> B (httpsvc, no SDK), the SDK and bpfmesh exporting to one
# otlp_receiver. Checked:
# 1. ONE trace per request, sequential and concurrent: curl's CLIENT span
#    (bpfmesh, a root: the injected header's ids) -> A's SERVER span (SDK)
#    -> A's CLIENT span (SDK) -> B's SERVER span (bpfmesh), nothing of
#    bpfmesh's for A; A's calls carry the SDK's traceparent and are never
#    injected. A's SDK exports every 100 ms while serving: once A is marked
#    SDK-instrumented (its first call with its own traceparent, status
#    injectionExcluded), its export calls, which carry no traceparent, get
#    no header either (on a connection opened before the mark too: the
#    sk_msg program skips its sends, sdkSends), so injected requests ==
#    curl's requests; bpfmesh's spans of those calls are roots, as with
#    injection off (test_otel_sdk.sh);
# 0. a Workload with tracing.instrumented: "true": its processes get no
#    header from their first connection on (sdkConnections);
# 2. traceparent flags 00 from curl, B answering 500: no span of that trace
#    from anyone (the SDK samples parent-based too), B's 500s still counted;
# 3. tracestate from curl: passed on by the SDK, on B's SERVER span;
# 4. PURGE through the chain: B's SERVER span _OTHER with the original;
# 5. B cutting its response (a close before its length, a reset): B's
#    SERVER span ERROR with error.type, under the SDK's CLIENT span;
# 6. traceparent behind a 2 KiB header, into A: the SDK's SERVER span its
#    child, B's span in that trace; curl's bpfmesh CLIENT span in it too
#    needs bpfmesh to read context past the first KiB of a head (branch
#    capcost): a known failure until that merges (KNOWN_FAIL below).
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/e2e/otel-node/sdkenv.sh"
AGENT_NETNS=1 # A's SDK and the agent export to one receiver in the test's namespace
setup_base
SEQ=30 CONC=10
RECV_PORT=$((API_PORT + 1))
for w in a b client sdkcfg; do mkdir -p "$CG/$w"; done
cat > "$CONF/chain.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: a}
spec:
  addresses: ["127.100.2.1"]
  ports: [{name: http, port: 80, targetPort: 18211}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: b}
spec:
  addresses: ["127.100.2.2"]
  ports: [{name: http, port: 80, targetPort: 18212}]
  endpoints: [{address: "127.0.0.1"}]
---
# curl sends its own traceparent in checks 2, 3 and 6, which would mark it
# SDK-instrumented: "false" keeps bpfmesh's CLIENT spans for it
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: client}
spec:
  addresses: ["127.100.2.3"]
  ports: [{name: http, port: 80, targetPort: 18213}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: a}
spec: {service: a, cgroup: bpfmesh-test-$ID/a}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: b}
spec: {service: b, cgroup: bpfmesh-test-$ID/b}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: client}
spec: {service: client, cgroup: bpfmesh-test-$ID/client, tracing: {instrumented: "false"}}
---
# an SDK says so in its Workload: never injected
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: sdkcfg}
spec: {service: client, cgroup: bpfmesh-test-$ID/sdkcfg, tracing: {instrumented: "true"}}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", timeout: 2s}
  sampling: {ratio: 1.0, alwaysSampleErrors: true}
  propagation: {inject: true}
YAML
( exec nsenter --net="/run/netns/$NS" "$E2E/otlp_receiver" --port "$RECV_PORT" \
	> "$TMP/spans.jsonl" 2> "$TMP/receiver.err" ) &
PIDS+=($!)
in_group b "$E2E/httpsvc" --name b --listen 127.0.0.1:18212 > "$TMP/b.out" 2>&1 &
PIDS+=($!)
in_group a node "$NODE_DIR/service.js" --name a --port 18211 --upstream 127.100.2.2:80 \
	--otlp "http://127.0.0.1:$RECV_PORT" --export-ms 100 > "$TMP/a.out" 2>&1 &
PIDS+=($!)
BPFMESH_INJECT_SELFTEST=ignore start_agent
svcs_ready() { grep -q ready "$TMP/a.out" && grep -q ready "$TMP/b.out"; }
wait_for "A (Node.js with the SDK) and B listen" 30 svcs_ready
status() { api_curl -sf "http://$API/api/v1/status" | python3 -c '
import json, sys; t = json.load(sys.stdin)["tracing"]
k = sys.argv[1]
print(t["injection"] if k == "state" else t[k] if k in t else t["injectionCounts"][k])' "$1"; }
inject_on() { case "$(status state)" in on*) return 0 ;; esac; return 1; }
wait_for "injection on" 60 inject_on
log "injection: $(status state)"

# --- 0. instrumented: "true": no header from the first connection (A has
# served nothing yet: its SDK has nothing to export)
INJ0=$(status injected) SKC0=$(status sdkConnections)
for i in 1 2 3; do
	in_group sdkcfg curl -s -o /dev/null "http://127.100.2.2/sdkcfg/$i" || true
done
expect_eq "instrumented: true: requests injected" 0 $(($(status injected) - INJ0))
expect_eq "instrumented: true: connections left alone" 3 $(($(status sdkConnections) - SKC0))

# --- 1. one trace per request
# a warm-up request: A's first call with its own traceparent marks it
run_requests /warm/ 1 1
a_excluded() { [ "$(status injectionExcluded)" -ge 1 ]; }
wait_for "A marked SDK-instrumented, excluded from injection" 10 a_excluded
# A is an SDK process and, once it served, a serving one: either check may
# be the one that leaves its export calls alone
skipped() { echo $(($(status sdkConnections) + $(status sdkSends) + $(status servingConnections) + $(status servingSends))); }
INJ0=$(status injected) SKIP0=$(skipped)
run_requests /seq/ "$SEQ" 1
INJ1=$(status injected)
run_requests /conc/ "$CONC" "$CONC"
INJ2=$(status injected) SKIP2=$(skipped)
expect_eq "seq: injected requests (curl's only, none of A's)" "$SEQ" $((INJ1 - INJ0))
expect_eq "conc: injected requests (curl's only, none of A's)" "$CONC" $((INJ2 - INJ1))
# how A's export calls were left alone depends on when Node opened its
# collector connection (before the programs: never chosen; after the mark:
# skipped at connect(), before this window; else skipped per send): a
# figure, not a check. That none was injected is checked just above.
log "A's export calls skipped during the rounds (sdk* + serving*): $((SKIP2 - SKIP0))"

# --- 2. flags 00, B answers 500 (A then 502)
T00=11111111111111111111111111111111 T01=22222222222222222222222222222222
T2K=33333333333333333333333333333333 PSPAN=00f067aa0ba902b7
EXPECT_CODE=502 run_requests /_status/500?n= 3 1 -H "traceparent: 00-$T00-$PSPAN-00"
# --- 3. tracestate
run_requests /ts/ 1 1 -H "traceparent: 00-$T01-$PSPAN-01" -H "tracestate: vendor=a1,other=b2"
# --- 4. PURGE through the chain
run_requests /purge/ 1 1 -X PURGE
# --- 5. cut responses (A answers 502)
EXPECT_CODE=502 run_requests /_cut/40?n= 1 1
EXPECT_CODE=502 run_requests /_reset/40?n= 1 1
# --- 6. traceparent behind a 2 KiB header
PAD=$(head -c 2048 /dev/zero | tr '\0' x)
run_requests /pad/ 1 1 -H "X-Pad: $PAD" -H "traceparent: 00-$T2K-$PSPAN-01"
# a root request last: once it is in, everything before was decided
run_requests /last/ 1 1
wait_spans /seq/ "$SEQ"
wait_spans /conc/ "$CONC"
wait_spans /last/ 1
# A's SDK exports all its spans as it stops (node is the one process in
# A's cgroup; $! above is the shell that started it)
INJ_END=$(status injected)
A_PID=$(cat "$CG/a/cgroup.procs")
kill -TERM $A_PID
a_gone() { [ -z "$(cat "$CG/a/cgroup.procs")" ]; }
wait_for "A flushed its SDK and exited" 30 a_gone
sdk_last() { grep -v '"scope":{"name":"bpfmesh"' "$TMP/spans.jsonl" | grep -q '/last/1'; }
wait_for "the SDK's spans exported" 30 sdk_last || sed 's/^/  a: /' "$TMP/a.out"

# A's last export, as it stops (the mark outlives the process): no header
sleep 0.5
expect_eq "A's export calls as it stops: injected" "$INJ_END" "$(status injected)"
traces exports a /v1/traces > "$TMP/exports.fig"
sed 's/^/  exports: /' "$TMP/exports.fig"
expect_range "A's export calls seen by bpfmesh" 1 100000 "$(val export_calls "$TMP/exports.fig")"
expect_eq "A's export calls: roots, none under a request" \
	"$(val export_calls "$TMP/exports.fig")" "$(val export_calls_roots "$TMP/exports.fig")"

for round in seq:$SEQ conc:$CONC; do
	r=${round%:*} n=${round#*:} f="$TMP/${round%:*}.fig"
	traces injected client a b "/$r/" > "$f"
	sed "s/^/  $r: /" "$f"
	expect_eq "$r: requests" "$n" "$(val requests "$f")"
	expect_eq "$r: requests in ONE trace" "$n" "$(val one_trace "$f")"
	expect_eq "$r: curl's CLIENT span (bpfmesh) a root" "$n" "$(val client_spans_roots "$f")"
	expect_eq "$r: A's SDK SERVER span under curl's CLIENT span" "$n" "$(val a_sdk_server_under_client "$f")"
	expect_eq "$r: A's SDK CLIENT span under its SERVER span" "$n" "$(val a_sdk_client_under_server "$f")"
	expect_eq "$r: B's SERVER span under the SDK's CLIENT span" "$n" "$(val b_under_sdk_client "$f")"
	expect_eq "$r: whole chains" "$n" "$(val full_chains "$f")"
	expect_eq "$r: bpfmesh spans of A (the SDK's duplicates)" 0 "$(val a_bpfmesh_spans "$f")"
done

sp_count() { grep -c "$1" "$TMP/spans.jsonl"; }
expect_eq "flags 00 + 500: no span of the trace exported (bpfmesh, SDK)" 0 "$(sp_count "\"trace_id\":\"$T00\"")"
expect_eq "flags 00 + 500: no span of those requests in any trace" 0 "$(sp_count '/_status/500')"
b500=$(api_curl -sf "http://$API/metrics" | grep '^http_server_request_duration_seconds_count{' |
	grep 'service_name="b"' | grep 'http_response_status_code="500"' | awk '{ s += $2 } END { print s + 0 }')
expect_eq "flags 00 + 500: B's 500s counted in http_server_request_duration_seconds" 3 "$b500"

# the requests of checks 4 and 5 (no traceparent from curl: injected) are
# whole chains too
for p in /purge/1 /_cut/40 /_reset/40; do
	expect_eq "$p: curl -> A (SDK) -> A's call (SDK) -> B, one trace" 1 \
		"$(traces injected client a b "$p" | val full_chains /dev/stdin)"
done
callee() { traces callee a b "$1" > "$TMP/callee.fig"; sed "s|^|  $1: |" "$TMP/callee.fig" >&2; }
cv() { val "$1" "$TMP/callee.fig"; }
callee /ts/1
expect_eq "tracestate: B's SERVER span under the SDK's CLIENT span" 1 "$(cv b_under_sdk_client)"
expect_eq "tracestate: B's SERVER span in curl's trace" "$T01" "$(cv trace_id)"
expect_eq "tracestate: passed on by the SDK, on B's SERVER span" "vendor=a1,other=b2" "$(cv trace_state)"

callee /purge/1
expect_eq "PURGE: B's SERVER span under the SDK's CLIENT span" 1 "$(cv b_under_sdk_client)"
expect_eq "PURGE: B's http.request.method" _OTHER "$(cv method)"
expect_eq "PURGE: B's http.request.method_original" PURGE "$(cv method_original)"

for p in /_cut/40 /_reset/40; do
	# url.path of B's span has no query: the ?n=1 is A's and curl's
	callee "$p"
	expect_eq "$p: B's SERVER span under the SDK's CLIENT span" 1 "$(cv b_under_sdk_client)"
	expect_eq "$p: B's SERVER span status ERROR" 2 "$(cv status_code)"
	expect_range "$p: B's SERVER span has error.type" 1 1 "$([ "$(cv error_type)" != - ] && echo 1 || echo 0)"
done

traces traced a b /pad/ "$T2K" "$PSPAN" > "$TMP/pad.fig"
sed 's/^/  pad: /' "$TMP/pad.fig"
expect_eq "2 KiB header: A's SERVER spans in the caller's trace" 1 "$(val a_server_spans "$TMP/pad.fig")"
expect_eq "2 KiB header: that one is the SDK's" 1 "$(val a_server_is_sdk "$TMP/pad.fig")"
expect_eq "2 KiB header: the child of the caller's span" 1 "$(val a_server_under_caller "$TMP/pad.fig")"
expect_eq "2 KiB header: B in the trace, under the SDK's CLIENT span" 1 "$(val b_under_sdk_client "$TMP/pad.fig")"
pad_client=$(grep '"kind":3' "$TMP/spans.jsonl" | grep '"url.path":"/pad/1"' | grep '"service.name":"client"' |
	python3 -c 'import json, sys
print(" ".join("%s-%s" % (d["trace_id"], d["parent_span_id"]) for d in map(json.loads, sys.stdin)) or "none")')
expect_eq "2 KiB header: curl's CLIENT span (bpfmesh) in the caller's trace, its child" "$T2K-$PSPAN" "$pad_client"
finish
