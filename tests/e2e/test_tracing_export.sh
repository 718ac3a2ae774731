#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Tracing without keep-alive, an incoming W3C traceparent, and a collector
# that fails: answering 503 twice loses nothing; down, the agent keeps
# running, retries, counts what it could not deliver, and keeps its queue
# bounded when more comes than it holds.
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
  ports: [{name: http, port: 80, targetPort: 18110}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: web}
spec: {service: web, cgroup: bpfmesh-test-$ID/web}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", timeout: 1s}
YAML
"$E2E/otlp_receiver" --port "$RECV_PORT" --fail-first 2 --fail-code 503 \
	> "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
RECV=$!; PIDS+=($RECV)
( echo $BASHPID > "$CG/web/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	"$E2E/httpsvc" --name web --listen 127.0.0.1:18110 ) > "$TMP/web.out" 2>&1 &
PIDS+=($!)
start_agent
wait_for "httpsvc web listens" 30 grep -q ready "$TMP/web.out"
client() { ( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" ); }

# 10 requests, a new connection each; the first from outside the mesh (no
# cgroup, so straight to the endpoint) with a traceparent, as from an
# instrumented caller on another node
TP_TRACE=4bf92f3577b34da6a3ce929d0e0e4736 TP_SPAN=00f067aa0ba902b7
in_ns curl -s -o /dev/null -H "traceparent: 00-$TP_TRACE-$TP_SPAN-01" http://127.0.0.1:18110/tp
for i in $(seq 9); do client curl -s -o /dev/null -H 'Connection: close' "http://127.100.1.1/items/$i"; done
for _ in $(seq 60); do
	[ "$(grep -c '"kind":2' "$TMP/spans.jsonl")" -ge 10 ] && break
	sleep 0.25
done
expect_eq "SERVER spans delivered through two 503 answers" 10 "$(grep -c '"kind":2' "$TMP/spans.jsonl")"
grep '"kind":2' "$TMP/spans.jsonl" | grep '"url.path":"/tp"' > "$TMP/tp.json"
expect_eq "traceparent: the SERVER span joined the caller's trace" 1 "$(grep -c "\"trace_id\":\"$TP_TRACE\"" "$TMP/tp.json")"
expect_eq "traceparent: its parent is the caller's span" 1 "$(grep -c "\"parent_span_id\":\"$TP_SPAN\"" "$TMP/tp.json")"
expect_eq "heuristic route folds the numeric segment" 9 "$(grep '"kind":2' "$TMP/spans.jsonl" | grep -c '"http.route":"/items/\*"')"
# the ring's bytes: every record has its 96-byte header, none is larger than
# a request with its trace context (bpf/http.h: HTTP_EV_MAX)
expect_eq "captureBytes: a header to the largest record per record" True \
	"$(api_curl -sf "http://$API/api/v1/config" | python3 -c '
import json, sys
t = json.load(sys.stdin)["tracing"]
print(t["captureEvents"] > 0 and 96 * t["captureEvents"] <= t["captureBytes"] <= 1768 * t["captureEvents"])')"
tstat() { api_curl -sf "http://$API/api/v1/config" | python3 -c '
import json, sys
t = json.load(sys.stdin)["tracing"]["otlp"]
print(eval(sys.argv[1]))' "$1"; }
expect_range "retried requests after the 503s" 2 100 "$(tstat 't["requestsFailed"]')"

# the collector dies: the agent goes on, retries, and keeps its queue bounded
stop_pid "$RECV"
for i in $(seq 5); do client curl -s -o /dev/null "http://127.100.1.1/down/$i"; done
for _ in $(seq 40); do
	[ "$(tstat 't["requestsFailed"]')" -ge 3 ] && break
	sleep 0.25
done
expect_range "failed deliveries counted while the collector is down" 3 1000 "$(tstat 't["requestsFailed"]')"
expect_eq "agent still healthy" 200 "$(api_curl -s -o /dev/null -w '%{http_code}' "http://$API/healthz")"
expect_eq "spans still recorded for the API" 5 "$(api_curl -sf "http://$API/api/v1/traces?service=web&limit=100" | grep -o '"url.path":"/down/[0-9]"' | wc -l)"
# overflow: as many requests as the queue holds spans, two spans each (the
# service's SERVER and curl's CLIENT), on one connection: more than the
# queue and the batch in hand together; what does not fit is refused and
# counted, and the queue never grows past its capacity
cap=$(tstat 't["queueCapacity"]')
urls=$(for i in $(seq "$cap"); do printf 'http://127.100.1.1/full/%d ' "$i"; done)
client curl -s -o /dev/null -w '%{http_code}\n' $urls > "$TMP/full.codes"
expect_eq "overflow requests answered" "$cap" "$(grep -c '^200$' "$TMP/full.codes")"
queue_refused() { [ "$(tstat 't["dropped"]["queue_full"]')" -gt 0 ]; }
wait_for "spans refused by the full queue" 30 queue_refused
tstat 't' > "$TMP/otlp.stats"
log "exporter while the collector is down: $(cat "$TMP/otlp.stats")"
expect_range "spans refused by the full queue (dropped.queue_full)" 1 1000000 "$(tstat 't["dropped"]["queue_full"]')"
expect_eq "queue at most its capacity ($cap) after the overflow" True "$(tstat 't["queueLength"] <= t["queueCapacity"]')"
expect_range "spans taken into the queue" "$cap" 1000000 "$(tstat 't["submitted"]')"
expect_eq "agent healthy after the overflow" 200 "$(api_curl -s -o /dev/null -w '%{http_code}' "http://$API/healthz")"
finish
