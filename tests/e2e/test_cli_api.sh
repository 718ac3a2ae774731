#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The API's bearer token (--api-token-file, --metrics-auth), its 400/404/405
# answers to malformed requests, /api/v1/status, and the query commands
# (services, status, traces, top) against it, with their error for an agent
# that is not there. The agent runs in the test's namespace, with a veth
# there for the tc programs, so its API and the CLI are reached there too.
AGENT_NETNS=1
. "$(dirname "$0")/lib.sh"
setup_base
mkdir -p "$CG/web" "$CG/client"
IF="bmt$ID"
ip -n "$NS" link add "$IF" type veth peer name "bmu$ID"
ip -n "$NS" link set "$IF" up
ip -n "$NS" link set "bmu$ID" up
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  addresses: ["127.100.3.1"]
  ports: [{name: http, port: 80, targetPort: 18300}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: spare, namespace: shop}
spec:
  addresses: ["127.100.3.2"]
  ports: [{name: http, port: 80, targetPort: 18301}]
  endpoints: [{address: "127.0.0.1"}, {address: "127.0.0.2"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: web}
spec: {service: web, cgroup: bpfmesh-test-$ID/web, interfaces: [$IF]}
YAML
TOKEN="s3cret-$ID-$RANDOM"
printf '%s\n' "$TOKEN" > "$TMP/token"
chmod 600 "$TMP/token"
printf 'wrong\n' > "$TMP/wrong"
: > "$TMP/empty"

# code [CURL ARGS] URL-PATH: the status of one request to the API
code() { local p=${*: -1}; api_curl -s --path-as-is -o "$TMP/body" -w '%{http_code}' "${@:1:$#-1}" "http://$API$p"; }
auth=(-H "Authorization: Bearer $TOKEN")
bm() { agent_ns "$BIN" "$@"; }

# a token file that cannot be used stops the agent before it attaches anything
for bad in "$TMP/missing" "$TMP/empty"; do
	bm agent --config "$CONF" --cgroup "$CG" --bpffs "$PINS" --listen "$API" \
		--api-token-file "$bad" > "$TMP/bad.out" 2>&1
	rc=$?
	expect_eq "agent with token file $(basename "$bad"): exit status" 2 "$rc"
	grep -q -- "--api-token-file $bad" "$TMP/bad.out" && pass "the error names the file" ||
		fail "no clear error: $(cat "$TMP/bad.out")"
done
bm agent --config "$CONF" --cgroup "$CG" --bpffs "$PINS" --listen "$API" --metrics-auth > "$TMP/bad.out" 2>&1
expect_eq "agent with --metrics-auth and no token file: exit status" 2 "$?"
[ -e "$PINS" ] && fail "a refused start pinned something under $PINS"

( echo $BASHPID > "$CG/web/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	"$E2E/httpsvc" --name web --listen 127.0.0.1:18300 ) > "$TMP/web.out" 2>&1 &
PIDS+=($!)
start_agent --api-token-file "$TMP/token"

# --- authentication
expect_eq "services without a token" 401 "$(code /api/v1/services)"
grep -q '"error"' "$TMP/body" && pass "401 body is a JSON error" || fail "401 body: $(cat "$TMP/body")"
hdr=$(api_curl -s -D - -o /dev/null "http://$API/api/v1/services" | tr -d '\r' | grep -i '^WWW-Authenticate:')
case "$hdr" in *Bearer*) pass "401 has $hdr" ;; *) fail "401 without WWW-Authenticate: Bearer ('$hdr')" ;; esac
expect_eq "services with a wrong token" 401 "$(code -H 'Authorization: Bearer nope' /api/v1/services)"
expect_eq "services with the token as a prefix" 401 "$(code -H "Authorization: Bearer ${TOKEN}x" /api/v1/services)"
expect_eq "services with Basic auth" 401 "$(code -H "Authorization: Basic $TOKEN" /api/v1/services)"
expect_eq "services with the token" 200 "$(code "${auth[@]}" /api/v1/services)"
expect_eq "scheme is case-insensitive" 200 "$(code -H "Authorization: bearer $TOKEN" /api/v1/services)"
expect_eq "unknown path without a token (no probing)" 401 "$(code /api/v1/nothing)"
expect_eq "/healthz without a token" 200 "$(code /healthz)"
expect_eq "/readyz without a token" 200 "$(code /readyz)"
expect_eq "/metrics open without --metrics-auth" 200 "$(code /metrics)"

# --- malformed requests
for p in '/api/v1/traces?limit=abc' '/api/v1/traces?limit=0' '/api/v1/traces?limit=1001' \
	'/api/v1/traces?limit=+5' '/api/v1/traces?limit=' '/api/v1/traces?limit=99999999999999999999' \
	'/api/v1/traces?service=a%01b' '/api/v1/services//web' '/api/v1/services/web/' \
	'/api/v1/services/a/b/c' '/api/v1/services/%2Fweb' '/api/v1/services/Web' \
	'/api/v1/services/we%ZZb' '/api/v1/services/-web' '/api/v1/services/shop/' \
	'/api/v1/services/web%00junk' '/api/v1/traces?service=web%00junk' '/api/v1/services/..'; do
	expect_eq "GET $p" 400 "$(code "${auth[@]}" "$p")"
	grep -q '"error"' "$TMP/body" || fail "$p: no JSON error: $(cat "$TMP/body")"
done
expect_eq "unknown service" 404 "$(code "${auth[@]}" /api/v1/services/nosuch)"
expect_eq "unknown service in a namespace" 404 "$(code "${auth[@]}" /api/v1/services/shop/web)"
expect_eq "service in its namespace" 200 "$(code "${auth[@]}" /api/v1/services/shop/spare)"
expect_eq "unknown path" 404 "$(code "${auth[@]}" /api/v1/nothing)"
expect_eq "a path cut short by %00" 404 "$(code "${auth[@]}" /api/v1/config%00x)"
expect_eq "percent-encoded name" 200 "$(code "${auth[@]}" /api/v1/services/%77eb)"
expect_eq "unknown query parameters are ignored" 200 "$(code "${auth[@]}" '/api/v1/services?x=1&y')"
expect_eq "traces with a good limit" 200 "$(code "${auth[@]}" '/api/v1/traces?limit=5&service=web')"
expect_eq "POST" 405 "$(code "${auth[@]}" -X POST /api/v1/services)"
allow=$(api_curl -s -D - -o /dev/null -X DELETE "${auth[@]}" "http://$API/api/v1/config" | tr -d '\r' | grep -i '^Allow:')
expect_eq "405 Allow header" "Allow: GET, HEAD" "$allow"

# --- /api/v1/status
code "${auth[@]}" /api/v1/status > "$TMP/status.code"
expect_eq "/api/v1/status" 200 "$(cat "$TMP/status.code")"
python3 - "$TMP/body" "$CG" "$PINS" "$(uname -r)" "$IF" > "$TMP/status.check" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
a, k, at = s["agent"], s["kernel"], s["attachments"]
progs = {p["name"]: p for p in at["programs"]}
maps = {m["name"]: m for m in s["maps"]}
print("pid_positive", a["pid"] > 0)
print("auth", a["authRequired"], a["metricsAuth"])
print("release", k["release"] == sys.argv[4])
print("btf", k["features"]["btf"])
print("cgroup", at["cgroup"] == sys.argv[2])
print("bpffs", at["bpffs"] == sys.argv[3])
print("connect4", progs["bm_connect4"]["state"], progs["bm_connect4"]["links"])
print("iter", progs["bm_iter_tcp"]["state"])
print("h2_outcome", progs["bm_h2_outcome"]["state"])
print("links_current", all(l["current"] for l in at["links"]), len(at["links"]) > 0)
print("cgroup_links_here", all(l.get("cgroup") == sys.argv[2] for l in at["links"] if l["type"] == "cgroup"))
print("frontends", maps["lb_frontends"]["count"], maps["lb_frontends"]["entries"])
print("backends", maps["lb_backends"]["count"], maps["lb_backends"]["entries"] == maps["lb_backends"]["maxEntries"])
print("pinned", maps["lb_conns"]["pinned"] == sys.argv[3] + "/maps/lb_conns")
print("tc_interfaces", at["tc"]["interfaces"] == [sys.argv[5]])
print("guard", progs["bm_tc_guard"]["state"], progs["bm_tc_guard"]["interfaces"] == [sys.argv[5]])
print("tcx_link", [(l["interface"], l["direction"]) for l in at["links"] if l.get("program") == "bm_tc_guard"] == [(sys.argv[5], "egress")])
print("tcx", k["features"]["tcx"])
print("sock_length", k["features"]["sockLengthTracepoints"], k["features"]["sockDestroy"])
print("off", k["off"])
PY
val() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$TMP/status.check"; }
expect_eq "status: pid" True "$(val pid_positive)"
expect_eq "status: auth" "True False" "$(val auth)"
expect_eq "status: kernel release" True "$(val release)"
expect_eq "status: BTF" True "$(val btf)"
expect_eq "status: cgroup" True "$(val cgroup)"
expect_eq "status: bpffs" True "$(val bpffs)"
expect_eq "status: bm_connect4" "attached ['bm_connect4']" "$(val connect4)"
expect_eq "status: socket iterator" "on demand" "$(val iter)"
expect_eq "status: HTTP/2 outcomes, run by the agent" "on demand" "$(val h2_outcome)"
expect_eq "status: every pinned link runs this agent's program" "True True" "$(val links_current)"
expect_eq "status: cgroup links on the test cgroup" True "$(val cgroup_links_here)"
# 2 services x 1 port x IPv4: two frontends
expect_eq "status: lb_frontends counted" "exact 2" "$(val frontends)"
expect_eq "status: arrays count as full" "array True" "$(val backends)"
expect_eq "status: pin path" True "$(val pinned)"
expect_eq "status: tc interfaces" True "$(val tc_interfaces)"
expect_eq "status: tc guard" "attached True" "$(val guard)"
expect_eq "status: tc guard's tcx link, egress on $IF" True "$(val tcx_link)"
expect_eq "status: tcx feature" True "$(val tcx)"
# the reference kernel has everything: nothing is off
expect_eq "status: sock_*_length tracepoints and bpf_sock_destroy" "True True" "$(val sock_length)"
expect_eq "status: nothing off" "[]" "$(val off)"

# --- the CLI
out=$(bm services --agent "$API" --token-file "$TMP/token" 2>&1); rc=$?
expect_eq "services --token-file: exit" 0 "$rc"
echo "$out" | grep -q '^SERVICE .*RPS .*ERR% .*P50 .*P99 .*ENDPOINTS .*BREAKER' &&
	pass "services: table header" || fail "services header: $out"
expect_eq "services: web row" "web 1/1 CLOSED" "$(echo "$out" | awk '$1 == "web" { print $1, $6, $7 }')"
expect_eq "services: shop/spare row" "shop/spare 2/2" "$(echo "$out" | awk '$1 == "shop/spare" { print $1, $6 }')"
echo "$out" | grep -q '^  127.0.0.2 .*healthy' && pass "services: endpoint lines" || fail "no endpoint lines: $out"
out=$(BPFMESH_AGENT=$API BPFMESH_TOKEN_FILE=$TMP/token bm services --no-endpoints --sort name 2>&1)
expect_eq "services from the environment, sorted by name" "shop/spare web" "$(echo "$out" | awk 'NR > 1 { printf "%s%s", s, $1; s = " " }')"
bm services --agent "$API" --token-file "$TMP/token" --json | python3 -c 'import json, sys; json.load(sys.stdin)' &&
	pass "services --json is JSON" || fail "services --json"
err=$(bm services --agent "$API" 2>&1 >/dev/null); rc=$?
expect_eq "services without a token: exit" 1 "$rc"
echo "$err" | grep -q 'answered 401' && echo "$err" | grep -q -- '--token-file' &&
	pass "services without a token says so" || fail "services without a token: $err"
err=$(bm services --agent "$API" --token-file "$TMP/wrong" 2>&1 >/dev/null); rc=$?
expect_eq "services with a wrong token: exit" 1 "$rc"

out=$(bm status --agent "$API" --token-file "$TMP/token" 2>&1); rc=$?
expect_eq "status: exit" 0 "$rc"
expect_eq "status: cgroup line" "cgroup: $CG" "$(echo "$out" | awk '$1 == "cgroup:" { print $1, $2 }')"
expect_eq "status: bm_connect4 line" "bm_connect4 cgroup/connect4 attached" "$(echo "$out" | awk '$1 == "bm_connect4" { print $1, $2, $3 }')"
expect_eq "status: bm_tc_guard line" "bm_tc_guard tc attached $IF egress" "$(echo "$out" | awk '$1 == "bm_tc_guard" { print $1, $2, $3, $4, $5 }')"
expect_eq "status: tc line" "tc: $IF" "$(echo "$out" | awk '$1 == "tc:" { print $1, $2 }')"
expect_eq "status: lb_frontends line" "lb_frontends hash 2" "$(echo "$out" | awk '$1 == "lb_frontends" { print $1, $2, $3 }')"
echo "$out" | grep -q '^ready: *yes' && pass "status: ready" || fail "status: $out"
echo "$out" | grep -q '^features: .*sock_send/recv_length yes' && pass "status: features line" ||
	fail "status: features line: $(echo "$out" | grep '^features:')"
expect_eq "status: no off lines on the reference kernel" "" "$(echo "$out" | grep '^off:')"
bm status --agent "$API" --token-file "$TMP/token" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["readiness"]["ready"] and d["status"]["attachments"]["programs"]' &&
	pass "status --json" || fail "status --json"

# spans: requests from the client cgroup to web's service address
( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	curl -s -o /dev/null -w '%{http_code}\n' http://127.100.3.1/a http://127.100.3.1/b \
	http://127.100.3.1/c ) > "$TMP/codes" 2>&1
expect_eq "requests answered" 3 "$(grep -c '^200$' "$TMP/codes")"
for _ in $(seq 40); do
	n=$(bm traces web --agent "$API" --token-file "$TMP/token" | grep -c ' SERVER ')
	[ "$n" -ge 3 ] && break
	sleep 0.25
done
out=$(bm traces web --agent "$API" --token-file "$TMP/token" 2>&1); rc=$?
expect_eq "traces: exit" 0 "$rc"
expect_eq "traces web: SERVER spans" 3 "$(echo "$out" | awk '$4 == "SERVER" && $5 == "GET" && $7 == 200' | wc -l)"
expect_eq "traces: 32-digit trace ids, 8-digit span ids" 3 "$(echo "$out" | awk '$4 == "SERVER" && length($2) == 32 && length($3) == 8' | wc -l)"
expect_eq "traces: oldest first" "/a /c" "$(echo "$out" | awk '$4 == "SERVER" { p[++n] = $6 } END { print p[1], p[n] }')"
expect_eq "traces --limit 1" 2 "$(bm traces web --limit 1 --agent "$API" --token-file "$TMP/token" | wc -l)"
out=$(bm traces --agent "$API" --token-file "$TMP/token")
echo "$out" | head -1 | grep -q 'SERVICE' && echo "$out" | grep -q ' web ' &&
	pass "traces of every service name theirs" || fail "traces (all): $out"
n=$(bm traces web --json --agent "$API" --token-file "$TMP/token" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["spans"]))')
expect_range "traces --json spans" 3 20 "$n"
bm traces web --limit 0 --agent "$API" > /dev/null 2>&1
expect_eq "traces --limit 0: usage error" 2 "$?"
bm traces web extra --agent "$API" > /dev/null 2>&1
expect_eq "traces with two services: usage error" 2 "$?"

out=$(agent_ns timeout 10 "$BIN" top -n 2 --interval 0.2 --agent "$API" --token-file "$TMP/token" 2>&1); rc=$?
expect_eq "top -n 2: exit" 0 "$rc"
expect_eq "top -n 2: two tables" 2 "$(echo "$out" | grep -c "^bpfmesh top - $API - ")"
expect_eq "top: no ANSI without a tty" 0 "$(echo "$out" | grep -c $'\033')"
expect_eq "top --sort bogus" 2 "$(bm top --sort bogus > /dev/null 2>&1; echo $?)"

# rate, errors and latency come from each service's "latency" object:
# server side first, else client side, '-' without one (a stand-in agent
# serves a fixed answer, so the columns are checked whatever the traffic)
# a stand-in agent: serve(body) answers /api/v1/services with body (404
# elsewhere); serve(fn) answers every path with fn(path without its query)
cat > "$TMP/serve.py" <<'PY'
import http.server
def serve(answer):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if callable(answer):
                code, body = 200, answer(self.path.split("?")[0])
            else:
                code, body = 200 if self.path == "/api/v1/services" else 404, answer
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a): pass
    s = http.server.HTTPServer(("127.0.0.1", 0), H)
    print(s.server_address[1], flush=True)
    s.serve_forever()
PY
# serve_fake SCRIPT NAME: runs it in the namespace; its address in FAKE
serve_fake() {
	( cd "$TMP" && exec nsenter --net="/run/netns/$NS" python3 "$1" > "$TMP/$2.port" ) &
	PIDS+=($!)
	for _ in $(seq 50); do [ -s "$TMP/$2.port" ] && break; sleep 0.05; done
	FAKE="127.0.0.1:$(cat "$TMP/$2.port")"
}
cat > "$TMP/fake.py" <<'PY'
import json
from serve import serve
def side(rps, er, p50, p99):
    return {"requests": 100, "errors": 2, "rps": rps, "errorRate": er, "p50Ms": p50,
            "p90Ms": p50, "p99Ms": p99, "maxMs": p99}
def svc(name, ns, lat):
    s = {"name": name, "namespace": ns, "endpointsHealthy": 1, "endpointsTotal": 2,
         "breaker": {"state": "CLOSED"}, "endpoints": []}
    if lat is not None:
        s["latency"] = lat
    return s
body = json.dumps({"services": [
    svc("web", "default", {"windowSeconds": 60, "server": side(12.5, 0.02, 1.2, 15.0),
                           "client": side(99, 0.5, 9, 9)}),
    svc("api", "shop", {"windowSeconds": 60, "server": None, "client": side(3.25, 0.5, 0.42, 1500.0)}),
    svc("idle", "default", None)]}).encode()
serve(body)
PY
serve_fake "$TMP/fake.py" fake
out=$(bm services --agent "$FAKE")
expect_eq "services: server side" "web 12.5 2.0% 1.20ms 15.0ms 1/2" "$(echo "$out" | awk '$1 == "web" { print $1, $2, $3, $4, $5, $6 }')"
expect_eq "services: client side when no server side" "shop/api 3.25 50.0% 0.42ms 1.50s" "$(echo "$out" | awk '$1 == "shop/api" { print $1, $2, $3, $4, $5 }')"
expect_eq "services: no latency object" "idle - - - - 1/2" "$(echo "$out" | awk '$1 == "idle" { print $1, $2, $3, $4, $5, $6 }')"
for k in "rps:web shop/api idle" "p99:shop/api web idle" "errors:shop/api web idle" "name:idle shop/api web"; do
	out=$(bm top -n 1 --sort "${k%%:*}" --agent "$FAKE")
	expect_eq "top --sort ${k%%:*}" "${k#*:}" "$(echo "$out" | awk 'NR > 3 && NF { printf "%s%s", s, $1; s = " " }')"
done
echo "$out" | head -1 | grep -q -- "- window 60s -" && pass "top header names the window" || fail "top header: $(echo "$out" | head -1)"

# what the traffic and the node's processes put in an answer (a process
# name, a gRPC method) reaches the terminal without its control characters
cat > "$TMP/escapes.py" <<'PY'
import json
from serve import serve
side = {"requests": 4, "errors": 0, "rps": 1.5, "errorRate": 0, "p50Ms": 1, "p90Ms": 1,
        "p99Ms": 2, "maxMs": 2}
body = json.dumps({"services": [{
    "name": "ev\u001b]2;pwned\u0007il", "namespace": "default", "endpointsHealthy": 0,
    "endpointsTotal": 0, "breaker": {"state": "CLOSED"}, "endpoints": [],
    "latency": {"windowSeconds": 60, "server": side},
    "rpcs": [dict(side, side="server", route="pkg.S/\u001b[2JM\u009b1m")]}]}).encode()
serve(body)
PY
serve_fake "$TMP/escapes.py" escapes
out=$(bm services --agent "$FAKE")
expect_eq "services: no control character reaches the terminal" 0 \
	"$(printf '%s' "$out" | LC_ALL=C grep -c $'[\001-\010\013-\037\177]\|\xc2[\x80-\x9f]')"
expect_eq "services: a process name's escape shown as ?" "ev?]2;pwned?il" "$(echo "$out" | awk 'NR == 2 { print $1 }')"
expect_eq "services: a gRPC method's escape shown as ?" "pkg.S/?[2JM?1m" "$(echo "$out" | awk 'NR == 3 { print $1 }')"

# an agent that answers the wrong types: exit 1 with the field named, never
# a json-c assertion (a stand-in agent serves the document of the case
# named in $TMP/mode)
cat > "$TMP/badtypes.py" <<'PY'
import json
from serve import serve
ok_ready = {"ready": True, "attached": True, "configApplied": True}
ok_config = {"source": "/etc/bpfmesh", "applied": True, "reloads": 1, "reloadErrors": 0,
             "lastError": "", "files": [], "services": []}
ok_status = {"agent": {"version": "x", "pid": 1}, "kernel": {"release": "6.18", "features": {}},
             "attachments": {"programs": [], "links": []}, "maps": []}
cases = {
    "services-string": {"/api/v1/services": {"services": "web"}},
    "services-root-array": {"/api/v1/services": [1, 2]},
    "endpoints-number": {"/api/v1/services": {"services": [{"name": "web", "endpoints": 5}]}},
    "name-number": {"/api/v1/services": {"services": [{"name": 7}]}},
    "latency-array": {"/api/v1/services": {"services": [{"name": "web", "latency": []}]}},
    "rps-string": {"/api/v1/services": {"services": [{"name": "web", "latency": {"server": {"rps": "fast"}}}]}},
    "refusals-array": {"/api/v1/services": {"services": [], "refusals": [1]}},
    "refusal-string": {"/api/v1/services": {"services": [], "refusals": {"noEndpoint": "x"}}},
    "programs-object": {"/api/v1/status": dict(ok_status, attachments={"programs": {"a": 1}})},
    "features-array": {"/api/v1/status": dict(ok_status, kernel={"features": [1]})},
    "maps-element": {"/api/v1/status": dict(ok_status, maps=["lb_conns"])},
    "interfaces-number": {"/api/v1/status": dict(ok_status, attachments={"tc": {"interfaces": [5]}})},
    "ready-string": {"/readyz": {"ready": "yes"}},
    "config-array": {"/api/v1/config": []},
    "spans-object": {"/api/v1/traces": {"spans": {}}},
    "span-attributes": {"/api/v1/traces": {"spans": [{"traceId": "a", "attributes": "x"}]}},
}
def answer(path):
    case = cases[open("mode").read().strip()]  # in $TMP, serve_fake's directory
    doc = case.get(path, {"/readyz": ok_ready, "/api/v1/config": ok_config,
                          "/api/v1/status": ok_status, "/api/v1/services": {"services": []},
                          "/api/v1/traces": {"spans": []}}.get(path))
    return json.dumps(doc).encode()
serve(answer)
PY
echo services-string > "$TMP/mode"
serve_fake "$TMP/badtypes.py" bad
BAD=$FAKE
for c in "services-string services .services" "services-root-array services ." \
	"endpoints-number services .services[0].endpoints" "name-number services .services[0].name" \
	"latency-array services .services[0].latency" "rps-string services .services[0].latency.server.rps" \
	"refusals-array services .refusals" "refusal-string services .refusals.noEndpoint" \
	"latency-array top .services[0].latency" "programs-object status .attachments.programs" \
	"features-array status .kernel.features" "maps-element status .maps[0]" \
	"interfaces-number status .attachments.tc.interfaces[0]" "ready-string status .ready" \
	"config-array status ." "spans-object traces .spans" \
	"span-attributes traces .spans[0].attributes"; do
	set -- $c
	mode=$1 cmd=$2 field=${c#* * }
	echo "$mode" > "$TMP/mode"
	args=(); [ "$cmd" = top ] && args=(-n 1)
	err=$(bm "$cmd" "${args[@]}" --agent "$BAD" 2>&1 >/dev/null); rc=$?
	expect_eq "$cmd, agent answering $mode: exit" 1 "$rc"
	case "$err" in
	*": $field is "*) pass "$cmd, $mode: names $field" ;;
	*) fail "$cmd, $mode: expected the field '$field' named: $err" ;;
	esac
done

# no agent: a clear message and exit status 2
free=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for cmd in services status traces top; do
	err=$(bm $cmd --agent "127.0.0.1:$free" 2>&1 >/dev/null); rc=$?
	expect_eq "$cmd with no agent: exit" 2 "$rc"
	expect_eq "$cmd with no agent: message" \
		"bpfmesh: cannot reach the agent at 127.0.0.1:$free: connection refused (is \`bpfmesh agent\` running?)" "$err"
done
for cmd in services top status traces agent; do
	h=$(bm $cmd --help); rc=$?
	expect_eq "$cmd --help: exit" 0 "$rc"
	[ "$cmd" = agent ] && continue
	for o in --agent --token-file --json; do
		echo "$h" | grep -q -- "$o" || fail "$cmd --help does not describe $o"
	done
done

# --- --metrics-auth: /metrics needs the token too; probes stay open
stop_pid "$AGENT_PID"
start_agent --api-token-file "$TMP/token" --metrics-auth
expect_eq "--metrics-auth: /metrics without a token" 401 "$(code /metrics)"
expect_eq "--metrics-auth: /metrics with the token" 200 "$(code "${auth[@]}" /metrics)"
expect_eq "--metrics-auth: /readyz" 200 "$(code /readyz)"
expect_eq "--metrics-auth: /healthz" 200 "$(code /healthz)"
code "${auth[@]}" /api/v1/status > /dev/null
expect_eq "status after a restart: links taken over" True \
	"$(python3 -c 'import json,sys; a = json.load(open(sys.argv[1]))["attachments"]; print(a["linksTakenOver"] > 0 and all(l["current"] for l in a["links"]))' "$TMP/body")"
finish
