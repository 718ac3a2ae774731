#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# gRPC capture end to end: a python3-grpcio (C-core) server as a Workload and
# a grpcio client in the test cgroup, on one channel through the service
# address: unary calls, server-streaming calls, calls that fail with
# UNAVAILABLE and one that runs past its deadline. Both sides' spans are named
# package.Service/Method with rpc.system, rpc.service, rpc.method and
# rpc.grpc.status_code from the trailers (trailers-only for the failures); a
# streaming call is one span; UNAVAILABLE is an ERROR on both sides (gRPC
# semantic conventions). rpc_server_duration and rpc_client_duration count
# the calls in /metrics and over OTLP metrics (rpc.server.duration and
# rpc.client.duration, unit s, with rpc.system/rpc.service/rpc.method), the
# latency API has Service/Method routes, and `bpfmesh services`/`top` show a
# line per Service/Method (text and --json). Every SERVER span's duration is
# held against the server's own figure for that call (grpc_echo.py: handler
# start to end, inside the wire time): never shorter than it by more than
# 0.2 ms, longer by at most 1 ms at the median.
# Outlier detection: of a service's two endpoints, one answers every call
# with UNAVAILABLE; with consecutiveGatewayErrors 3 it is ejected (the
# agent decodes the trailers and gives the outcome back to the kernel,
# bm_h2_outcome, at its next read of the ring: a call or two more may reach
# the endpoint than with HTTP/1.x, whose status the kernel reads itself).
. "$(dirname "$0")/lib.sh"
setup_base
PY=/usr/bin/python3 # Debian's python, where python3-grpcio is installed
N=10
RECV_PORT=$((API_PORT + 1))
PORT=18300
for w in gsrv client; do mkdir -p "$CG/$w"; done
$PY -c 'import grpc' 2>/dev/null || { fail "python3-grpcio is needed (make deps)"; finish; }
cat > "$CONF/grpc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: echo}
spec:
  addresses: ["127.100.3.1"]
  ports: [{name: grpc, port: 80, targetPort: $PORT}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: echo}
spec: {service: echo, cgroup: bpfmesh-test-$ID/gsrv}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", timeout: 2s, metricsInterval: 1s}
  sampling: {ratio: 1.0}
---
YAML
service_yaml flaky 127.100.3.2 80 18310 roundRobin 127.0.0.1 127.0.0.2 >> "$CONF/grpc.yaml"
cat >> "$CONF/grpc.yaml" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: flaky}
spec:
  service: flaky
  outlierDetection:
    consecutiveGatewayErrors: 3
    consecutive5xxErrors: 10
    interval: 1s
    baseEjectionTime: 60s
    maxEjectionPercent: 50
YAML
"$E2E/otlp_receiver" --port "$RECV_PORT" --metrics-out "$TMP/metrics.jsonl" > "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
PIDS+=($!)
( echo $BASHPID > "$CG/gsrv/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	$PY "$ROOT/tests/e2e/grpc_echo.py" rpcserver "127.0.0.1:$PORT" ) > "$TMP/server.out" 2>&1 &
PIDS+=($!)
for i in 1 2; do
	( exec nsenter --net="/run/netns/$NS" $PY "$ROOT/tests/e2e/grpc_echo.py" server \
		"$([ $i = 1 ] && echo unavailable || echo ok)" "127.0.0.$i:18310" ) > "$TMP/flaky$i.out" 2>&1 &
	PIDS+=($!)
done
start_agent
wait_for "the gRPC server listens" 60 grep -q ready "$TMP/server.out"
flaky_ready() { grep -q ready "$TMP/flaky1.out" && grep -q ready "$TMP/flaky2.out"; }
wait_for "the two flaky endpoints listen" 60 flaky_ready
( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	$PY "$ROOT/tests/e2e/grpc_echo.py" rpcclient 127.100.3.1:80 "$N" ) > "$TMP/client.out" 2>&1
sed 's/^/  client: /' "$TMP/client.out"
res() { awk -v m="$1" -v c="$2" '$1 == m && $2 == c { print $3; f=1 } END { if (!f) print 0 }' "$TMP/client.out"; }
expect_eq "client: Say OK" "$N" "$(res Say OK)"
expect_eq "client: Count OK (5 replies each)" 3 "$(res Count OK)"
expect_eq "client: Fail UNAVAILABLE" 2 "$(res Fail UNAVAILABLE)"
expect_eq "client: Slow DEADLINE_EXCEEDED" 1 "$(res Slow DEADLINE_EXCEEDED)"
CALLS=$((N + 3 + 2 + 1))
for _ in $(seq 80); do
	[ "$(grep -c '"kind":2' "$TMP/spans.jsonl")" -ge "$CALLS" ] && break
	sleep 0.25
done
sleep 1.5 # the slow call's server side ends 500 ms after its deadline
$PY - "$TMP/spans.jsonl" > "$TMP/check.out" <<'PY'
import json, sys, collections
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
grpc = [s for s in spans if s["attributes"].get("rpc.system") == "grpc"]
for kind, side in ((2, "server"), (3, "client")):
    ss = [s for s in grpc if s["kind"] == kind]
    print(side, "spans", len(ss))
    by = collections.Counter((s["name"], s["attributes"].get("rpc.grpc.status_code"), s["status_code"])
                             for s in ss)
    for (name, code, st), c in sorted(by.items(), key=str):
        print(side, "name", name, code, st, c)
    say = next((s for s in ss if s["name"] == "bpfmesh.test.Echo/Say"), None)
    if say:
        a = say["attributes"]
        print(side, "rpc.service", a.get("rpc.service"))
        print(side, "rpc.method", a.get("rpc.method"))
        print(side, "service.name", say["resource"].get("service.name"))
PY
sed 's/^/  /' "$TMP/check.out"
# name, rpc.grpc.status_code, span status (0 unset, 1 ok, 2 error), count
nm() { awk -v sd="$1" -v n="bpfmesh.test.Echo/$2" -v c="$3" -v st="$4" \
	'$1 == sd && $2 == "name" && $3 == n && $4 == c && $5 == st { print $6; f=1 } END { if (!f) print 0 }' "$TMP/check.out"; }
val() { awk -v sd="$1" -v k="$2" '$1 == sd && $2 == k { print $3 }' "$TMP/check.out"; }
for sd in server client; do
	expect_eq "$sd: Say spans, status 0" "$N" "$(nm $sd Say 0 0)"
	expect_eq "$sd: Count spans (one per streaming call)" 3 "$(nm $sd Count 0 0)"
	expect_eq "$sd: Fail spans, UNAVAILABLE, ERROR" 2 "$(nm $sd Fail 14 2)"
	expect_eq "$sd: rpc.service" bpfmesh.test.Echo "$(val $sd rpc.service)"
	expect_eq "$sd: rpc.method" Say "$(val $sd rpc.method)"
done
expect_eq "server: service.name" echo "$(val server service.name)"
# no Workload names the client: it is named after its process, not after
# the worker thread grpcio calls from ("default-executor")
cname=$(val client service.name)
expect_eq "client: service.name is the process's name" python "$(case "$cname" in python*) echo python ;; *) echo "$cname" ;; esac)"
expect_eq "client: the call past its deadline, an ERROR" 1 \
	"$(awk '$1 == "client" && $2 == "name" && $3 == "bpfmesh.test.Echo/Slow" && $5 == 2 { s += $6 } END { print s + 0 }' "$TMP/check.out")"
expect_eq "server: the call past its deadline" 1 \
	"$(awk '$1 == "server" && $2 == "name" && $3 == "bpfmesh.test.Echo/Slow" { s += $6 } END { print s + 0 }' "$TMP/check.out")"

# durations: each SERVER span against the server's own figure for its call
# ("call METHOD START_NS DURATION_NS"), paired per method in start order.
# Slow is left out: its client gives up at 100 ms (RST_STREAM ends the
# span) while the handler sleeps on to 500 ms.
$PY - "$TMP/spans.jsonl" "$TMP/server.out" > "$TMP/dur.out" <<'PY'
import json, sys, collections
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
srv = collections.defaultdict(list)
for s in spans:
    if s["kind"] == 2 and s["attributes"].get("rpc.system") == "grpc":
        srv[s["attributes"].get("rpc.method")].append(
            (s["start_unix_ns"], s["end_unix_ns"] - s["start_unix_ns"]))
own = collections.defaultdict(list)
for l in open(sys.argv[2]):
    f = l.split()
    if len(f) == 4 and f[0] == "call":
        own[f[1]].append((int(f[2]), int(f[3])))
diffs, unpaired = [], 0
for m in ("Say", "Count", "Fail"):
    a, b = sorted(srv[m]), sorted(own[m])
    unpaired += abs(len(a) - len(b))
    diffs += [(sp[1] - ow[1]) / 1e6 for sp, ow in zip(a, b)]
diffs.sort()
pct = lambda q: diffs[min(len(diffs) - 1, int(q * len(diffs)))] if diffs else 99
print("pairs", len(diffs))
print("unpaired", unpaired)
print("min_us", int(diffs[0] * 1000) if diffs else -99999)
print("median_us", int(pct(0.5) * 1000))
print("p95_us", int(pct(0.95) * 1000))
PY
sed 's/^/  span - server figure: /' "$TMP/dur.out"
dv() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/dur.out"; }
expect_eq "server figures paired with SERVER spans" "$((N + 3 + 2))" "$(dv pairs)"
expect_eq "calls without a span or a figure" 0 "$(dv unpaired)"
expect_range "span - server figure, smallest (us)" -200 100000 "$(dv min_us)"
expect_range "span - server figure, median (us)" -200 1000 "$(dv median_us)"
expect_range "span - server figure, p95 (us; a loaded 2-core machine)" -200 10000 "$(dv p95_us)"

api_curl -sf "http://$API/metrics" > "$TMP/metrics.txt"
api_curl -sf "http://$API/api/v1/services/echo/latency?window=300s" > "$TMP/latency.json"
mcount() { awk -v m="$1" -v meth="$2" '$1 ~ "^" m "_count" && index($0, "rpc_method=\"" meth "\"") && /rpc_service="bpfmesh.test.Echo"/ { s += $NF } END { print s + 0 }' "$TMP/metrics.txt"; }
expect_eq "rpc_server_duration_count{Say}" "$N" "$(mcount rpc_server_duration Say)"
expect_eq "rpc_server_duration_count{Fail}" 2 "$(mcount rpc_server_duration Fail)"
expect_eq "rpc_client_duration_count{Say}" "$N" "$(mcount rpc_client_duration Say)"
expect_eq "rpc_client_duration_count{Count}" 3 "$(mcount rpc_client_duration Count)"
routes=$($PY -c '
import json, sys
lat = json.load(open(sys.argv[1]))
def walk(o):
    if isinstance(o, dict):
        yield o
        for v in o.values(): yield from walk(v)
    elif isinstance(o, list):
        for v in o: yield from walk(v)
print(" ".join(sorted("%s=%d" % (r["route"], r.get("requests", 0)) for r in walk(lat)
                      if r.get("side") == "server" and "route" in r)))' "$TMP/latency.json")
log "latency API routes: $routes"
expect_eq "latency API: Service/Method routes" \
	"bpfmesh.test.Echo/Count=3 bpfmesh.test.Echo/Fail=2 bpfmesh.test.Echo/Say=$N bpfmesh.test.Echo/Slow=1" \
	"$routes"

# OTLP metrics: the rpc histograms (cumulative: the last export of each
# series counts), unit s, with the gRPC attributes
for _ in $(seq 40); do
	grep -q '"rpc.client.duration"' "$TMP/metrics.jsonl" 2>/dev/null &&
		grep -q '"rpc.server.duration"' "$TMP/metrics.jsonl" && break
	sleep 0.25
done
sleep 1.5 # one more export, after the last call's spans
$PY - "$TMP/metrics.jsonl" > "$TMP/otlpm.out" <<'PY'
import json, sys, collections
last = {}
units = set()
for l in open(sys.argv[1]):
    p = json.loads(l)
    if not p["name"].startswith("rpc."):
        continue
    a = p["attributes"]
    units.add((p["name"], p["unit"], p["type"]))
    key = (p["name"], p["resource"].get("service.name"), a.get("rpc.system"),
           a.get("rpc.service"), a.get("rpc.method"), a.get("rpc.grpc.status_code"))
    if key not in last or p["time_unix_ns"] >= last[key][0]:
        last[key] = (p["time_unix_ns"], p["count"])
for u in sorted(units):
    print("unit", *u)
sums = collections.Counter()
for (name, svc, system, service, method, code), (_, c) in last.items():
    sums[(name, svc, system, service, method, code)] += c
for k, c in sorted(sums.items(), key=str):
    print("point", *[str(x) for x in k], c)
PY
sed 's/^/  otlp: /' "$TMP/otlpm.out"
om() { awk -v n="$1" -v m="$2" -v c="$3" '$1 == "point" && $2 == n && $4 == "grpc" && $5 == "bpfmesh.test.Echo" && $6 == m && $7 == c { s += $8 } END { print s + 0 }' "$TMP/otlpm.out"; }
expect_eq "OTLP rpc.server.duration{Say, 0}" "$N" "$(om rpc.server.duration Say 0)"
expect_eq "OTLP rpc.server.duration{Count, 0}" 3 "$(om rpc.server.duration Count 0)"
expect_eq "OTLP rpc.server.duration{Fail, 14}" 2 "$(om rpc.server.duration Fail 14)"
expect_eq "OTLP rpc.client.duration{Say, 0}" "$N" "$(om rpc.client.duration Say 0)"
expect_eq "OTLP rpc.client.duration{Fail, 14}" 2 "$(om rpc.client.duration Fail 14)"
# past the deadline: C-core's server answers DEADLINE_EXCEEDED (4) in
# trailers if its own timer (grpc-timeout) fires before the client's
# RST_STREAM arrives; else no trailers, and no rpc.grpc.status_code
expect_eq "OTLP rpc.client.duration{Slow, 4 or no status code}" 1 \
	"$(($(om rpc.client.duration Slow 4) + $(om rpc.client.duration Slow None)))"
expect_eq "OTLP rpc.server.duration: a histogram in s" "unit rpc.server.duration s histogram" \
	"$(grep '^unit rpc.server.duration' "$TMP/otlpm.out")"
expect_eq "OTLP rpc.server.duration of service echo" "$N" \
	"$(awk '$1 == "point" && $2 == "rpc.server.duration" && $3 == "echo" && $6 == "Say" { s += $8 } END { print s + 0 }' "$TMP/otlpm.out")"

# bpfmesh services and top: a line per Service/Method under the service
agent_ns "$BIN" services --agent "$API" > "$TMP/services.txt" 2>&1
sed 's/^/  services: /' "$TMP/services.txt"
agent_ns "$BIN" services --agent "$API" --json > "$TMP/services.json" 2>&1
agent_ns timeout 20 "$BIN" top -n 1 --agent "$API" > "$TMP/top.txt" 2>&1
# the echo row, then its Service/Method lines: name and a p50 in ms
rpc_lines() {
	awk '/^echo / { on = 1; next } on && /^  bpfmesh\.test\.Echo\// { print $1, ($5 ~ /ms$/ ? "ms" : $5) } on && !/^  bpfmesh/ { on = 0 }' "$1" | sort | tr '\n' ' '
}
want_rpc="bpfmesh.test.Echo/Count ms bpfmesh.test.Echo/Fail ms bpfmesh.test.Echo/Say ms bpfmesh.test.Echo/Slow ms "
expect_eq "services: echo's Service/Method lines with their p50" "$want_rpc" "$(rpc_lines "$TMP/services.txt")"
expect_eq "top: echo's Service/Method lines with their p50" "$want_rpc" "$(rpc_lines "$TMP/top.txt")"
expect_eq "services --json: echo's server rpcs" \
	"bpfmesh.test.Echo/Count=3 bpfmesh.test.Echo/Fail=2 bpfmesh.test.Echo/Say=$N bpfmesh.test.Echo/Slow=1" \
	"$($PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
s = next(s for s in d["services"] if s["name"] == "echo")
print(" ".join(sorted("%s=%d" % (r["route"], r["requests"]) for r in s.get("rpcs", [])
                      if r["side"] == "server" and r["rpc"])))' "$TMP/services.json" 2>&1)"

# outlier detection: a channel (a connection) per call, round robin
# 100 ms between calls: the agent, which decodes the statuses, gets each
# outcome to the kernel within its 20 ms read beat even on a loaded machine
# (back to back, a call or two more can reach the endpoint: README)
( echo $BASHPID > "$CG/client/cgroup.procs" && exec env GRPC_CALL_GAP_MS=100 nsenter \
	--net="/run/netns/$NS" $PY "$ROOT/tests/e2e/grpc_echo.py" client 127.100.3.2:80 20 ) \
	> "$TMP/flaky.out" 2>&1
sed 's/^/  flaky: /' "$TMP/flaky.out"
failed=$(awk '$1 == "failed" { print $2 }' "$TMP/flaky.out")
expect_range "UNAVAILABLE calls before the ejection" 3 6 "${failed:-99}"
expect_eq "the UNAVAILABLE endpoint" ejected "$(ep_json flaky 127.0.0.1 health)"
expect_eq "the healthy endpoint" healthy "$(ep_json flaky 127.0.0.2 health)"
finish
