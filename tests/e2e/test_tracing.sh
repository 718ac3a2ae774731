#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Zero-code tracing of a three-service chain (gateway -> users -> orders), all
# real HTTP servers in the test cgroup, called by curl (in the cgroup too, so
# it is traced and named after its process): N requests on one keep-alive
# connection make N traces of 6 spans (curl CLIENT, then SERVER and CLIENT on
# every hop) with the right parents, exported over OTLP/HTTP (gzip) to a test
# receiver and shown by /api/v1/traces. One more request, with a W3C
# traceparent set by the client itself, makes the same tree in the header's
# trace under the header's span (each service passes the header on
# unchanged, which nests its call as usual), without curl's CLIENT span: a
# process that sends a traceparent of its own is taken for one whose SDK
# exports that span (headers win: the gateway's SERVER span is the child of
# the header's span). Every SERVER span lasts what the
# service itself measured for that request, within 1 ms: httpsvc --timing,
# from its socket's timestamps of the request's first byte in and the
# response's last byte out (its clock readings around read() and write()
# are printed too, but carry the thread's scheduling delays, milliseconds on
# a busy machine).
. "$(dirname "$0")/lib.sh"
setup_base
N=20
RECV_PORT=$((API_PORT + 1))
for w in gateway users orders client; do mkdir -p "$CG/$w"; done
cat > "$CONF/shop.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: gateway}
spec:
  addresses: ["127.100.1.1"]
  ports: [{name: http, port: 80, targetPort: 18100}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: users}
spec:
  addresses: ["127.100.1.2"]
  ports: [{name: http, port: 80, targetPort: 18101}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: orders}
spec:
  addresses: ["127.100.1.3"]
  ports: [{name: http, port: 80, targetPort: 18102}]
  endpoints: [{address: "127.0.0.1"}]
YAML
for w in gateway users orders; do
	cat >> "$CONF/shop.yaml" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: $w}
spec: {service: $w, cgroup: bpfmesh-test-$ID/$w}
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
"$E2E/otlp_receiver" --port "$RECV_PORT" > "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
PIDS+=($!)
# the services, each in its workload's cgroup, each timing its requests
svc() { # NAME PORT [UPSTREAM] [extra]
	local name=$1 port=$2; shift 2
	( echo $BASHPID > "$CG/$name/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
		"$E2E/httpsvc" --name "$name" --listen "127.0.0.1:$port" --timing "$@" ) \
		> "$TMP/$name.out" 2>&1 &
	PIDS+=($!)
}
svc orders 18102 --delay-ms 3
svc users 18101 --upstream 127.100.1.3:80
svc gateway 18100 --upstream 127.100.1.2:80
start_agent
svcs_ready() { grep -q ready "$TMP/gateway.out" && grep -q ready "$TMP/users.out" && grep -q ready "$TMP/orders.out"; }
wait_for "the three services listen" 30 svcs_ready
urls=$(for i in $(seq $N); do printf 'http://127.100.1.1/api/v1/users/%d ' "$i"; done)
( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	curl -s -o /dev/null -w '%{http_code}\n' $urls ) > "$TMP/codes" 2>&1
expect_eq "requests answered 200" "$N" "$(grep -c '^200$' "$TMP/codes")"
TP_TRACE=0af7651916cd43dd8448eb211c80319c TP_SPAN=b7ad6b7169203331
( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	curl -s -o /dev/null -w '%{http_code}\n' -H "traceparent: 00-$TP_TRACE-$TP_SPAN-01" \
	http://127.100.1.1/api/v1/users/tp ) > "$TMP/tp_code" 2>&1
expect_eq "request with the client's traceparent answered" 200 "$(cat "$TMP/tp_code")"
sleep 1.5   # spans are held briefly for late partners, then batched
for _ in $(seq 40); do
	[ "$(wc -l < "$TMP/spans.jsonl")" -ge $((6 * N + 5)) ] && break
	sleep 0.25
done
python3 - "$TMP/spans.jsonl" "$N" "$TMP" "$TP_TRACE" "$TP_SPAN" > "$TMP/check.out" <<'PY'
import json, sys, collections
all_spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
for s in all_spans:
    s["kind"] = {2: "SERVER", 3: "CLIENT"}.get(s["kind"], s["kind"])
n = int(sys.argv[2])
tp_trace, tp_span = sys.argv[4], sys.argv[5]
# the traceparent request's trace is checked on its own, below
spans = [s for s in all_spans if s["trace_id"] != tp_trace]
by = collections.Counter((s["resource"].get("service.name"), s["kind"]) for s in spans)
print("spans", len(spans))
for (svc, kind), c in sorted(by.items()):
    print("count", svc, kind, c)
traces = collections.defaultdict(list)
for s in spans:
    traces[s["trace_id"]].append(s)
print("traces", len(traces))
ok = 0
for tid, ss in traces.items():
    ids = {s["span_id"]: s for s in ss}
    def find(svc, kind):
        return [s for s in ss if s["resource"].get("service.name") == svc and s["kind"] == kind]
    try:
        gs, = find("gateway", "SERVER"); gc, = find("gateway", "CLIENT")
        us, = find("users", "SERVER"); uc, = find("users", "CLIENT"); os_, = find("orders", "SERVER")
    except ValueError:
        continue
    # the client (curl, in the cgroup too, named after its process) is the root
    roots = [s for s in find("curl", "CLIENT") if not s["parent_span_id"].strip("0")]
    if (len(roots) == 1 and gs["parent_span_id"] == roots[0]["span_id"]
            and gc["parent_span_id"] == gs["span_id"] and us["parent_span_id"] == gc["span_id"]
            and uc["parent_span_id"] == us["span_id"] and os_["parent_span_id"] == uc["span_id"]):
        ok += 1
print("good_trees", ok)
def tree(ss, root_parent):
    """gateway SERVER -> CLIENT -> users SERVER -> CLIENT -> orders SERVER,
    the gateway's SERVER span the child of root_parent (curl sent its own
    traceparent: its CLIENT span is left to its SDK)"""
    chain = [("gateway", "SERVER"), ("gateway", "CLIENT"),
             ("users", "SERVER"), ("users", "CLIENT"), ("orders", "SERVER")]
    parent = root_parent
    for svc, kind in chain:
        m = [s for s in ss if s["resource"].get("service.name") == svc and s["kind"] == kind]
        if len(m) != 1 or m[0]["parent_span_id"] != parent:
            return False
        parent = m[0]["span_id"]
    return len(ss) == len(chain)
tp_spans = [s for s in all_spans if s["trace_id"] == tp_trace]
print("tp_spans", len(tp_spans))
print("tp_tree", tree(tp_spans, tp_span))
tc = [s for s in tp_spans if s["kind"] == "CLIENT" and s["resource"].get("service.name") == "gateway"]
print("client_name", tc[0]["name"] if tc else "-")
print("client_has_route", "http.route" in tc[0]["attributes"] if tc else "-")
g = [s for s in spans if s["resource"].get("service.name") == "gateway" and s["kind"] == "SERVER"]
if g:
    a = g[0]["attributes"]
    print("gw_name", g[0]["name"])
    print("gw_route", a.get("http.route"))
    print("gw_status", a.get("http.response.status_code"))
    print("gw_method", a.get("http.request.method"))
o = [s for s in spans if s["resource"].get("service.name") == "orders" and s["kind"] == "SERVER"]
print("orders_min_us", int(min((s["end_unix_ns"] - s["start_unix_ns"]) / 1e3 for s in o)) if o else -1)
# each service's own measure of each request ("request METHOD TARGET STATUS
# WIRE_US APP_US", WIRE_US -1 when a timestamp did not come); every path is
# requested once, so (service, path) names one request
measured = {}
for svc in ("gateway", "users", "orders"):
    for l in open(f"{sys.argv[3]}/{svc}.out"):
        f = l.split()
        if len(f) == 6 and f[0] == "request" and int(f[4]) >= 0:
            measured[(svc, f[2].split("?")[0])] = (int(f[4]), int(f[5]))
compared, worst, worst_app = 0, -1, -1
for s in all_spans:
    if s["kind"] != "SERVER":
        continue
    key = (s["resource"].get("service.name"), s["attributes"].get("url.path"))
    if key not in measured:
        continue
    span_us = (s["end_unix_ns"] - s["start_unix_ns"]) / 1e3
    wire, app = measured[key]
    compared += 1
    worst_app = max(worst_app, abs(span_us - app))
    if abs(span_us - wire) > worst:
        worst = abs(span_us - wire)
        worst_what = f"{key[0]} {key[1]}: span {span_us:.0f} us, measured {wire} us"
print("measured", len(measured))
print("compared", compared)
print("worst_diff_us", int(worst + 0.999))
if compared:
    print("worst_what", worst_what)
print("worst_app_clock_diff_us", int(worst_app + 0.999))
PY
cat "$TMP/check.out" | sed 's/^/  /'
val() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/check.out"; }
cnt() { awk -v s="$1" -v k="$2" '$1 == "count" && $2 == s && $3 == k { print $4 }' "$TMP/check.out"; }
for w in gateway users orders; do expect_eq "$w SERVER spans" "$N" "$(cnt "$w" SERVER)"; done
expect_eq "gateway CLIENT spans" "$N" "$(cnt gateway CLIENT)"
expect_eq "users CLIENT spans" "$N" "$(cnt users CLIENT)"
expect_eq "curl CLIENT spans" "$N" "$(cnt curl CLIENT)"
expect_eq "traces (one per request)" "$N" "$(val traces)"
expect_eq "traces with the right tree" "$N" "$(val good_trees)"
expect_eq "span name" "GET /api/v1/users/{id}" "$(awk '$1 == "gw_name" { print $2, $3 }' "$TMP/check.out")"
expect_eq "http.route from the template" "/api/v1/users/{id}" "$(val gw_route)"
expect_eq "http.response.status_code" 200 "$(val gw_status)"
# orders answers after --delay-ms 3: its SERVER spans last at least that
expect_range "shortest orders SERVER span (us)" 3000 50000 "$(val orders_min_us)"
expect_eq "traceparent from the client: spans in its trace (curl's left to its SDK)" 5 "$(val tp_spans)"
expect_eq "traceparent from the client: the tree under its span" True "$(val tp_tree)"
expect_eq "CLIENT span name: the method alone" GET "$(val client_name)"
# http.route is a server attribute (semantic conventions): the OTLP encoder
# leaves it off CLIENT spans
expect_eq "CLIENT span exported without http.route" False "$(val client_has_route)"
expect_eq "requests the services timed themselves" $((3 * N + 3)) "$(val measured)"
expect_eq "SERVER spans compared with the service's own time" $((3 * N + 3)) "$(val compared)"
expect_range "largest |SERVER span - service's own time| (us)" 0 1000 "$(val worst_diff_us)"
n_api=$(api_curl -sf "http://$API/api/v1/traces?service=orders&limit=5" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["spans"]))')
expect_eq "/api/v1/traces?service=orders&limit=5" 5 "$n_api"
finish
