#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# bpfmesh beside a real OpenTelemetry SDK: curl (in the mesh) -> service A
# (Node.js with @opentelemetry/sdk-trace-node and instrumentation-http,
# exporting over OTLP/HTTP protobuf) -> service B (httpsvc, no SDK), A
# calling B through B's service address; the SDK and bpfmesh export to the
# same otlp_receiver. Injection off (the default): A, seen sending its own
# traceparents, is SDK-instrumented, so bpfmesh exports none of its SERVER
# or CLIENT spans; B's SERVER span hangs under the SDK's CLIENT span (50
# sequential requests, 20 concurrent); a traceparent sent into A makes one
# SERVER span for A, the SDK's, its child; the SDK's export calls to the
# collector are roots, never nested under a request; A's requests still
# count in the metrics.
#
# The npm packages: tests/e2e/otel-node/sdkenv.sh (installed or skipped).
#
# To extend (e.g. with injection on): the figures come from
# tests/e2e/otel-node/traces.py (one function per check); run_requests and
# wait_spans (sdkenv.sh) drive and collect a round.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/e2e/otel-node/sdkenv.sh"
AGENT_NETNS=1 # A's SDK and the agent export to one receiver in the test's namespace
setup_base
SEQ=50 CONC=20
RECV_PORT=$((API_PORT + 1))
for w in a b client; do mkdir -p "$CG/$w"; done
cat > "$CONF/chain.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: a}
spec:
  addresses: ["127.100.2.1"]
  ports: [{name: http, port: 80, targetPort: 18201}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: b}
spec:
  addresses: ["127.100.2.2"]
  ports: [{name: http, port: 80, targetPort: 18202}]
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
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", timeout: 2s}
  sampling: {ratio: 1.0}
YAML
( exec nsenter --net="/run/netns/$NS" "$E2E/otlp_receiver" --port "$RECV_PORT" \
	> "$TMP/spans.jsonl" 2> "$TMP/receiver.err" ) &
PIDS+=($!)
in_group b "$E2E/httpsvc" --name b --listen 127.0.0.1:18202 > "$TMP/b.out" 2>&1 &
PIDS+=($!)
in_group a node "$NODE_DIR/service.js" --name a --port 18201 --upstream 127.100.2.2:80 \
	--otlp "http://127.0.0.1:$RECV_PORT" --export-ms 100 > "$TMP/a.out" 2>&1 &
PIDS+=($!)
start_agent
svcs_ready() { grep -q ready "$TMP/a.out" && grep -q ready "$TMP/b.out"; }
wait_for "A (Node.js with the SDK) and B listen" 30 svcs_ready

# a warm-up request: A's first call with its own traceparent marks it
run_requests /warm/ 1 1
run_requests /seq/ "$SEQ" 1
run_requests /conc/ "$CONC" "$CONC"
TP_TRACE=4bf92f3577b34da6a3ce929d0e0e4736 TP_SPAN=00f067aa0ba902b7
run_requests /tp/ 1 1 -H "traceparent: 00-$TP_TRACE-$TP_SPAN-01"
wait_spans /seq/ "$SEQ"
wait_spans /conc/ "$CONC"
wait_spans /tp/ 1
sleep 1 # the SDK's last batch, and bpfmesh's spans of its export calls

for round in seq conc; do
	traces chain a b "/$round/" > "$TMP/$round.fig"
	sed "s/^/  $round: /" "$TMP/$round.fig"
done
for round in seq:$SEQ conc:$CONC; do
	r=${round%:*} n=${round#*:} f="$TMP/${round%:*}.fig"
	expect_eq "$r: SDK SERVER spans of A" "$n" "$(val sdk_server_spans "$f")"
	expect_eq "$r: SDK CLIENT spans of A, each under its SERVER span" "$n" "$(val sdk_trees "$f")"
	expect_eq "$r: bpfmesh SERVER spans of A (the SDK's duplicates)" 0 "$(val a_bpfmesh_server_spans "$f")"
	expect_eq "$r: bpfmesh CLIENT spans of A's calls to B (the SDK's duplicates)" 0 "$(val a_bpfmesh_client_spans "$f")"
	expect_eq "$r: requests with one SERVER span for A" "$n" "$(val one_server_span_for_a "$f")"
	expect_eq "$r: B's SERVER span under the SDK's CLIENT span" "$n" "$(val b_under_sdk_client "$f")"
done

traces traced a b /tp/ "$TP_TRACE" "$TP_SPAN" > "$TMP/tp.fig"
sed 's/^/  tp: /' "$TMP/tp.fig"
expect_eq "traceparent into A: SERVER spans of A in its trace" 1 "$(val a_server_spans "$TMP/tp.fig")"
expect_eq "traceparent into A: that one is the SDK's" 1 "$(val a_server_is_sdk "$TMP/tp.fig")"
expect_eq "traceparent into A: the child of the caller's span" 1 "$(val a_server_under_caller "$TMP/tp.fig")"
expect_eq "traceparent into A: B under the SDK's CLIENT span" 1 "$(val b_under_sdk_client "$TMP/tp.fig")"

traces exports a /v1/traces > "$TMP/exports.fig"
sed 's/^/  exports: /' "$TMP/exports.fig"
expect_range "SDK export calls seen by bpfmesh" 1 100000 "$(val export_calls "$TMP/exports.fig")"
expect_eq "SDK export calls that are roots (none nested under a request)" \
	"$(val export_calls "$TMP/exports.fig")" "$(val export_calls_roots "$TMP/exports.fig")"

# A's requests still count: metrics and the latency API see every one
api_curl -sf "http://$API/api/v1/config" | python3 -c '
import json, sys
t = json.load(sys.stdin)["tracing"]
print("sdkProcesses", t["sdkProcesses"]); print("sdkDuplicates", t["sdkDuplicates"])' > "$TMP/status.fig"
sed 's/^/  status: /' "$TMP/status.fig"
expect_range "/api/v1/config tracing.sdkProcesses" 1 100 "$(val sdkProcesses "$TMP/status.fig")"
a_count=$(api_curl -sf "http://$API/metrics" | awk '/^http_server_request_duration_seconds_count\{/ && /service_name="a"/ { n += $NF } END { print n + 0 }')
expect_range "A's SERVER requests counted in http_server_request_duration_seconds" \
	$((SEQ + CONC + 2)) 100000 "$a_count"
finish
