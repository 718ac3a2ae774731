#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A W3C traceparent behind 2 KiB of other headers: the kernel finds it past
# the first KiB of the request head it copies (bpf/http.h), so curl's CLIENT
# span (curl runs in the cgroup too) is a child of the context it sent and
# the service's SERVER span a child of that. A head longer than the
# kernel's search (9 KiB) is counted in bpfmesh_capture_drops_total
# {reason="head_too_long"}, once per captured side, and its request still
# makes its spans (in a trace of their own: a traceparent behind the search
# is not seen, never guessed).
. "$(dirname "$0")/lib.sh"
setup_base
RECV_PORT=$((API_PORT + 1))
mkdir -p "$CG/api" "$CG/client"
cat > "$CONF/api.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: api}
spec:
  addresses: ["127.100.2.1"]
  ports: [{name: http, port: 80, targetPort: 18110}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: api}
spec: {service: api, cgroup: bpfmesh-test-$ID/api}
---
# curl sends its own traceparent, which would mark it SDK-instrumented (no
# bpfmesh CLIENT spans): "false" keeps bpfmesh's spans for it
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: client}
spec:
  addresses: ["127.100.2.2"]
  ports: [{name: http, port: 80, targetPort: 18111}]
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
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", compression: gzip, timeout: 2s}
  sampling: {ratio: 1.0}
YAML
"$E2E/otlp_receiver" --port "$RECV_PORT" > "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
PIDS+=($!)
( echo $BASHPID > "$CG/api/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	"$E2E/httpsvc" --name api --listen "127.0.0.1:18110" ) > "$TMP/api.out" 2>&1 &
PIDS+=($!)
start_agent
wait_for "the service listens" 30 grep -q ready "$TMP/api.out"
TP_TRACE=4bf92f3577b34da6a3ce929d0e0e4736 TP_SPAN=00f067aa0ba902b7
FAR_TRACE=0af7651916cd43dd8448eb211c80319c
pad() { head -c "$1" /dev/zero | tr '\0' p; }
client() { # ARGS...: curl in the client cgroup, the status code out
	( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
		curl -s -o /dev/null -w '%{http_code}\n' "$@" )
}
client -H "X-Pad: $(pad 2048)" -H "traceparent: 00-$TP_TRACE-$TP_SPAN-01" \
	-H "tracestate: bm=far" http://127.100.2.1/far > "$TMP/code_far" 2>&1
expect_eq "request with a traceparent behind 2 KiB answered" 200 "$(cat "$TMP/code_far")"
client -H "X-Pad: $(pad 9216)" -H "traceparent: 00-$FAR_TRACE-$TP_SPAN-01" \
	http://127.100.2.1/toolong > "$TMP/code_long" 2>&1
expect_eq "request with a 9 KiB head answered" 200 "$(cat "$TMP/code_long")"
for _ in $(seq 60); do
	[ "$(grep -c '"/far"\|"/toolong"' "$TMP/spans.jsonl")" -ge 4 ] && break
	sleep 0.25
done
python3 - "$TMP/spans.jsonl" "$TP_TRACE" "$TP_SPAN" "$FAR_TRACE" > "$TMP/check.out" <<'PY'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
tp_trace, tp_span, far_trace = sys.argv[2], sys.argv[3], sys.argv[4]
def server(path):
    return [s for s in spans if s["kind"] == 2 and s["attributes"].get("url.path") == path
            and s["resource"].get("service.name") == "api"]
far = server("/far")
print("far_servers", len(far))
if far:
    print("far_trace", far[0]["trace_id"] == tp_trace)
    cl = [s for s in spans if s["span_id"] == far[0]["parent_span_id"]]
    print("far_parent_client", len(cl) == 1 and cl[0]["kind"] == 3)
    print("far_client_parent", len(cl) == 1 and cl[0]["parent_span_id"] == tp_span)
long = server("/toolong")
print("long_servers", len(long))
if long:
    print("long_own_trace", long[0]["trace_id"] != far_trace)
PY
sed 's/^/  /' "$TMP/check.out"
val() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/check.out"; }
expect_eq "SERVER span of the 2 KiB head" 1 "$(val far_servers)"
expect_eq "its trace is the client's" True "$(val far_trace)"
expect_eq "its parent is curl's CLIENT span" True "$(val far_parent_client)"
expect_eq "whose parent is the span the client sent" True "$(val far_client_parent)"
expect_eq "SERVER span of the 9 KiB head" 1 "$(val long_servers)"
expect_eq "the 9 KiB head's span is not in a guessed trace" True "$(val long_own_trace)"
long_drops=$(api_curl -sf "http://$API/metrics" |
	awk '/^bpfmesh_capture_drops_total\{.*reason="head_too_long"/ { s += $NF; f = 1 } END { print f ? s : "no-series" }')
expect_eq "bpfmesh_capture_drops_total{reason=\"head_too_long\"} (both sides)" 2 "$long_drops"
finish
