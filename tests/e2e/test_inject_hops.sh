#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Injection leaves middle hops alone (issue 13): with Telemetry
# propagation.inject: true, curl (in the mesh) -> hopb (httpsvc, in the mesh,
# no SDK: --no-propagate) -> hopc (hdrsrv.py, in the mesh, prints the
# traceparents it got), hopb calling hopc through its service address. The
# kernel makes an injected header's trace id at the send and cannot know the
# request hopb's thread serves, so a header on hopb's call would start a new
# trace at every hop; hopb, seen serving requests, gets none, and its call
# keeps bpfmesh's nesting. Each request must make ONE trace: curl CLIENT (a
# root, with the injected ids) -> hopb SERVER -> hopb CLIENT -> hopc SERVER;
# hopc receives no traceparent; status counts N injected (curl's only), the
# calls of a serving process not chosen, and the serving processes.
# The self-test is ignored (test_inject.sh covers it): this test is about
# which processes get a header, on any kernel.
. "$(dirname "$0")/lib.sh"
setup_base
N=10
RECV_PORT=$((API_PORT + 1))
for w in hopb hopc client; do mkdir -p "$CG/$w"; done
cat > "$CONF/hops.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: hopb}
spec:
  addresses: ["127.100.5.2"]
  ports: [{name: http, port: 80, targetPort: 18502}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: hopc}
spec:
  addresses: ["127.100.5.3"]
  ports: [{name: http, port: 80, targetPort: 18503}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: hopb}
spec: {service: hopb, cgroup: bpfmesh-test-$ID/hopb}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: hopc}
spec: {service: hopc, cgroup: bpfmesh-test-$ID/hopc}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", compression: none, timeout: 2s}
  sampling: {ratio: 1.0}
  propagation: {inject: true}
YAML
"$E2E/otlp_receiver" --port "$RECV_PORT" > "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
PIDS+=($!)
in_wl() { local w=$1; shift; ( echo $BASHPID > "$CG/$w/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" ); }
in_wl hopc python3 "$ROOT/tests/e2e/hdrsrv.py" 18503 > "$TMP/hopc.out" 2>&1 &
PIDS+=($!)
in_wl hopb "$E2E/httpsvc" --name hopb --listen 127.0.0.1:18502 --upstream 127.100.5.3:80 \
	--no-propagate > "$TMP/hopb.out" 2>&1 &
PIDS+=($!)
BPFMESH_INJECT_SELFTEST=ignore start_agent
wait_for "hopc listens" 20 grep -q ready "$TMP/hopc.out"
status() { api_curl -sf "http://$API/api/v1/status" | python3 -c '
import json, sys; t = json.load(sys.stdin)["tracing"]
print(t["injection"] if sys.argv[1] == "state" else t.get(sys.argv[1], t["injectionCounts"].get(sys.argv[1])))' "$1"; }
st_on() { case "$(status state)" in on*) return 0 ;; esac; return 1; }
wait_for "injection on" 60 st_on
log "injection state: $(status state)"
hopb_up() { in_ns curl -sf -o /dev/null http://127.0.0.1:18502/healthz; }
wait_for "hopb answers" 20 hopb_up

INJ0=$(status injected) # the self-test's request went through the program too
urls=$(for i in $(seq $N); do printf 'http://127.100.5.2/hop/%d ' "$i"; done)
in_wl client curl -s -o /dev/null -w '%{http_code}\n' $urls > "$TMP/codes" 2>&1
expect_eq "requests answered 200" "$N" "$(grep -c '^200$' "$TMP/codes")"

# hopc: what hopb's calls carried (hdrsrv prints one line per request)
python3 - "$TMP/hopc.out" > "$TMP/hopc_tp.out" <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
hop = [r for r in got if r["path"].startswith("/hop/")]
print("requests", len(hop))
print("with_traceparent", sum(1 for r in hop if r["traceparent"]))
PY
expect_eq "hopc got hopb's calls" "$N" "$(awk '$1 == "requests" { print $2 }' "$TMP/hopc_tp.out")"
expect_eq "hopb's calls carry no traceparent (a serving process)" 0 \
	"$(awk '$1 == "with_traceparent" { print $2 }' "$TMP/hopc_tp.out")"

sleep 1.5 # spans are held briefly for late partners, then batched
for _ in $(seq 60); do
	[ "$(grep -c '"/hop/' "$TMP/spans.jsonl")" -ge $((4 * N)) ] && break
	sleep 0.25
done
python3 - "$TMP/spans.jsonl" > "$TMP/check.out" <<'PY'
import json, sys, collections
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
spans = [s for s in spans if str(s["attributes"].get("url.path", "")).startswith("/hop/")]
for s in spans:
    s["kind"] = {2: "SERVER", 3: "CLIENT"}.get(s["kind"], s["kind"])
by = collections.Counter((s["resource"].get("service.name"), s["kind"]) for s in spans)
for (svc, kind), c in sorted(by.items()):
    print("count", svc, kind, c)
traces = collections.defaultdict(list)
for s in spans:
    traces[s["trace_id"]].append(s)
print("traces", len(traces))
good = 0
for ss in traces.values():
    def one(svc, kind):
        m = [s for s in ss if s["resource"].get("service.name") == svc and s["kind"] == kind]
        return m[0] if len(m) == 1 else None
    cc, bs, bc, cs = one("curl", "CLIENT"), one("hopb", "SERVER"), one("hopb", "CLIENT"), one("hopc", "SERVER")
    if (len(ss) == 4 and None not in (cc, bs, bc, cs) and not cc["parent_span_id"].strip("0")
            and bs["parent_span_id"] == cc["span_id"] and bc["parent_span_id"] == bs["span_id"]
            and cs["parent_span_id"] == bc["span_id"]):
        good += 1
    else:
        print("bad trace:", [(s["resource"].get("service.name"), s["kind"], s["span_id"], s["parent_span_id"]) for s in ss])
print("good_traces", good)
PY
sed 's/^/  /' "$TMP/check.out"
val() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/check.out"; }
expect_eq "one trace per request" "$N" "$(val traces)"
expect_eq "traces curl CLIENT -> hopb SERVER -> hopb CLIENT -> hopc SERVER" "$N" "$(val good_traces)"
# curl's requests only: hopb's calls were not chosen (a connection each)
expect_eq "injected count (curl's requests)" "$N" "$(($(status injected) - INJ0))"
expect_range "connections of a serving process not chosen" "$N" 1000 "$(status servingConnections)"
expect_range "serving processes excluded" 1 100 "$(status injectionServing)"

# --- a keep-alive connection opened before its process first served: its
# first request (an edge client's) gets a header, the one sent after the
# process served a request gets none (sk_msg checks on every send)
mkdir -p "$CG/late"
in_wl late python3 -c '
import socket
c = socket.create_connection(("127.100.5.3", 80))
def get(path):
    c.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: hopc\r\n\r\n")
    got = b""
    while not got.endswith(b"ok\n"):
        d = c.recv(4096)
        if not d: break
        got += d
get(b"/late/before")
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 18504)); l.listen(1)
print("ready", flush=True)
s, _ = l.accept()
req = b""
while b"\r\n\r\n" not in req:
    req += s.recv(4096)
get(b"/late/after")
s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
s.close()
' > "$TMP/late.out" 2>&1 &
LATE=$!
PIDS+=($LATE)
wait_for "the late server listens" 20 grep -q ready "$TMP/late.out"
SENDS0=$(status servingSends)
in_wl client curl -s -o /dev/null http://127.0.0.1:18504/serve
wait "$LATE"
tpn() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    if l.startswith("{") and json.loads(l)["path"] == sys.argv[2]:
        print(len(json.loads(l)["traceparent"]))' "$TMP/hopc.out" "$1"; }
expect_eq "keep-alive request before the process served: a header" 1 "$(tpn /late/before)"
expect_eq "keep-alive request after the process served: none" 0 "$(tpn /late/after)"
expect_eq "sends of a serving process on a chosen connection" 1 "$(($(status servingSends) - SENDS0))"
agent_ns "$BIN" status --agent "$API" | grep -q 'serving processes excluded' \
	&& pass "bpfmesh status shows the serving processes" || fail "bpfmesh status: no serving count"
finish
