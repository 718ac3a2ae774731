#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Who may read what from the API: the Host header (DNS rebinding), the
# sensitive paths (traces, config) without a token, as root and as `nobody`,
# --api-open-sensitive and --api-allowed-hosts; query strings kept out of
# the span store; and the routing of services named "latency". The agent
# runs in the test's namespace with a veth there for the tc programs.
AGENT_NETNS=1
. "$(dirname "$0")/lib.sh"
setup_base
mkdir -p "$CG/web" "$CG/client"
IF="bmt$ID"
ip -n "$NS" link add "$IF" type veth peer name "bmu$ID"
ip -n "$NS" link set "$IF" up
ip -n "$NS" link set "bmu$ID" up
{
	service_yaml web 127.100.8.1 80 18800 - 127.0.0.1
	echo ---
	service_yaml latency 127.100.8.2 80 18801 - 127.0.0.2
	echo ---
	service_yaml latency 127.100.8.3 80 18802 - 127.0.0.3 | sed 's/^metadata: .*/metadata: {name: latency, namespace: latency}/'
	echo ---
	cat <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: web}
spec: {service: web, cgroup: bpfmesh-test-$ID/web, interfaces: [$IF]}
YAML
} > "$CONF/svc.yaml"
# a malformed allow-list stops the agent before it attaches anything
for bad in 'a,,b' 'a b' ''; do
	rc=$(agent_ns timeout 10 "$BIN" agent --config "$CONF" --cgroup "$CG" --bpffs "$PINS" \
		--listen "$API" --api-allowed-hosts "$bad" 2> "$TMP/bad.out" > /dev/null; echo $?)
	expect_eq "--api-allowed-hosts '$bad': exit status" 2 "$rc"
	grep -q -- '--api-allowed-hosts' "$TMP/bad.out" || fail "no clear error: $(cat "$TMP/bad.out")"
done
[ -e "$PINS" ] && fail "a refused start pinned something under $PINS"
( echo $BASHPID > "$CG/web/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	"$E2E/httpsvc" --name web --listen 127.0.0.1:18800 ) > "$TMP/web.out" 2>&1 &
PIDS+=($!)
start_agent || finish

# code [CURL ARGS] PATH: the status of one request (body in $TMP/body);
# as_nobody: the same as user nobody (uid 65534, no groups)
code() { local p=${*: -1}; api_curl -s --path-as-is -o "$TMP/body" -w '%{http_code}' "${@:1:$#-1}" "http://$API$p"; }
as_nobody() {
	nsenter --net="/run/netns/$NS" setpriv --reuid 65534 --regid 65534 --clear-groups "$@"
}
code_nobody() {
	local p=${*: -1}
	as_nobody curl -s --path-as-is -o - -w '\n%{http_code}' "${@:1:$#-1}" "http://$API$p" > "$TMP/nbody"
	tail -1 "$TMP/nbody"
}
json() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/body" "$1"; }

# --- spans with secrets in the query string
( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	curl -s -o /dev/null -w '%{http_code}\n' "http://127.100.8.1/login?token=SECRETTOKEN1&user=ann" \
	"http://127.100.8.1/search?q=SECRETQUERY2" ) > "$TMP/codes" 2>&1
expect_eq "requests with query strings answered" 2 "$(grep -c '^200$' "$TMP/codes")"
for _ in $(seq 40); do
	code '/api/v1/traces?service=web' > /dev/null
	[ "$(grep -o '"SERVER"' "$TMP/body" | wc -l)" -ge 2 ] && break
	sleep 0.25
done
expect_eq "traces as root without a token" 200 "$(code '/api/v1/traces?service=web')"
cp "$TMP/body" "$TMP/traces.json"
expect_eq "SERVER spans of the two requests" "/login /search" \
	"$(python3 -c 'import json, sys; print(" ".join(sorted(s["attributes"]["url.path"] for s in json.load(open(sys.argv[1]))["spans"] if s["kind"] == "SERVER")))' "$TMP/traces.json")"
grep -q 'SECRET' "$TMP/traces.json" && fail "a query value reached /api/v1/traces: $(grep -o '.\{40\}SECRET.\{20\}' "$TMP/traces.json" | head -2)" ||
	pass "no query value in /api/v1/traces"
grep -q '?' "$TMP/traces.json" && fail "a '?' in /api/v1/traces" || pass "no query string in /api/v1/traces"

# --- sensitive paths without a token: root and the agent's user only
expect_eq "config as root without a token" 200 "$(code /api/v1/config)"
for p in /healthz /readyz /metrics /api/v1/services /api/v1/services/web /api/v1/status; do
	expect_eq "nobody: $p" 200 "$(code_nobody "$p")"
done
for p in '/api/v1/traces' '/api/v1/traces?service=web' /api/v1/config; do
	expect_eq "nobody: $p" 403 "$(code_nobody "$p")"
	head -1 "$TMP/nbody" | grep -q '"error":.*token' && pass "403 body names the token" ||
		fail "403 body: $(head -c 200 "$TMP/nbody")"
	grep -q 'SECRET\|url.path\|"files"' "$TMP/nbody" && fail "nobody saw the answer of $p"
done
out=$(as_nobody "$BIN" traces web --agent "$API" 2>&1); rc=$?
expect_eq "bpfmesh traces as nobody: exit" 1 "$rc"
echo "$out" | grep -q 'answered 403' && echo "$out" | grep -q -- '--token-file' &&
	pass "bpfmesh traces as nobody says why" || fail "bpfmesh traces as nobody: $(echo "$out" | head -3)"
out=$(agent_ns "$BIN" traces web --agent "$API" 2>&1); rc=$?
expect_eq "bpfmesh traces as root: exit" 0 "$rc"
# status as nobody: all but the reload counts of /api/v1/config
out=$(as_nobody "$BIN" status --agent "$API" 2>&1); rc=$?
expect_eq "bpfmesh status as nobody: exit" 0 "$rc"
echo "$out" | grep -q "^config: *$CONF (applied); reloads and errors: only for root or with a token" &&
	pass "bpfmesh status as nobody: config line without the counts" || fail "status as nobody: $out"
expect_eq "bpfmesh status --json as nobody: config" None \
	"$(as_nobody "$BIN" status --json --agent "$API" | python3 -c 'import json, sys; print(json.load(sys.stdin)["config"])')"
out=$(agent_ns "$BIN" status --agent "$API" 2>&1)
echo "$out" | grep -q "^config: .* 1 reloads, 0 rejected" && echo "$out" | grep -q '^API auth: *none; traces and config only for root' &&
	pass "bpfmesh status as root: counts, and who may read traces" || fail "status as root: $out"

# --- the Host header: the listen address and localhost names, nothing else
for h in "127.0.0.1:$API_PORT" 127.0.0.1 "localhost:$API_PORT" localhost LocalHost. "localhost:1"; do
	expect_eq "Host: $h" 200 "$(code -H "Host: $h" /api/v1/services)"
done
for h in "evil.example:$API_PORT" evil.example "127.0.0.2:$API_PORT" "[::1]:$API_PORT" \
	"localhost.evil.example" "127.0.0.1.evil.example:$API_PORT"; do
	expect_eq "Host: $h on /api/v1/services" 421 "$(code -H "Host: $h" /api/v1/services)"
	grep -q '"error":.*Host' "$TMP/body" && pass "421 body is a JSON error naming Host" ||
		fail "421 body: $(head -c 200 "$TMP/body")"
done
for p in /metrics /healthz /api/v1/traces /api/v1/nothing; do
	expect_eq "Host: evil.example on $p" 421 "$(code -H "Host: evil.example:$API_PORT" "$p")"
done
expect_eq "HTTP/1.0 without Host" 200 "$(code --http1.0 -H 'Host:' /api/v1/services)"
expect_eq "HTTP/1.1 without Host" 400 "$(code -H 'Host:' /api/v1/services)"
grep -q '"error":.*Host' "$TMP/body" && pass "400 body names Host" || fail "400 body: $(head -c 200 "$TMP/body")"

# --- services named "latency": in default and in namespace latency
expect_eq "/services/latency" "200 default latency 127.0.0.2" \
	"$(code /api/v1/services/latency) $(json 'd["namespace"], d["name"], d["endpoints"][0]["address"]' | tr -d "(),'")"
expect_eq "/services/default/latency" "200 default 127.0.0.2" \
	"$(code /api/v1/services/default/latency) $(json 'd["namespace"], d["endpoints"][0]["address"]' | tr -d "(),'")"
expect_eq "/services/latency/latency: the service latency of namespace latency" "200 latency 127.0.0.3" \
	"$(code /api/v1/services/latency/latency) $(json 'd["namespace"], d["endpoints"][0]["address"]' | tr -d "(),'")"
expect_eq "/services/latency/latency/latency" "200 latency latency 60" \
	"$(code /api/v1/services/latency/latency/latency) $(json 'd["namespace"], d["service"], d["windowSeconds"]' | tr -d "(),'")"
expect_eq "/services/default/latency/latency" "200 default latency" \
	"$(code /api/v1/services/default/latency/latency) $(json 'd["namespace"], d["service"]' | tr -d "(),'")"
expect_eq "/services/web/latency (no namespace web): web's latency" "200 default web True" \
	"$(code /api/v1/services/web/latency) $(json 'd["namespace"], d["service"], "routes" in d' | tr -d "(),'")"
expect_eq "/services/default/web/latency" "200 default web" \
	"$(code '/api/v1/services/default/web/latency?window=30s') $(json 'd["namespace"], d["service"]' | tr -d "(),'")"
expect_eq "/services/latency?window=30s" 200 "$(code '/api/v1/services/latency?window=30s')"
expect_eq "/services/latency/web: unknown" 404 "$(code /api/v1/services/latency/web)"
expect_eq "/services/nosuch/latency: unknown" 404 "$(code /api/v1/services/nosuch/latency)"
expect_eq "/services/latency/latency/latency/latency" 400 "$(code /api/v1/services/latency/latency/latency/latency)"
expect_eq "/services/a/b/c" 400 "$(code /api/v1/services/a/b/c)"
expect_eq "/services/latency/" 400 "$(code /api/v1/services/latency/)"

# --- --api-open-sensitive, --api-allowed-hosts
stop_pid "$AGENT_PID"
start_agent --api-open-sensitive --api-allowed-hosts "bpfmesh.example,10.9.8.7" || finish
expect_eq "--api-open-sensitive: nobody reads traces" 200 "$(code_nobody /api/v1/traces)"
expect_eq "--api-open-sensitive: nobody reads config" 200 "$(code_nobody /api/v1/config)"
expect_eq "--api-allowed-hosts: a name of the list" 200 "$(code -H "Host: bpfmesh.example:$API_PORT" /api/v1/services)"
expect_eq "--api-allowed-hosts: an address of the list" 200 "$(code -H "Host: 10.9.8.7" /api/v1/services)"
expect_eq "--api-allowed-hosts: the listen address still" 200 "$(code /api/v1/services)"
expect_eq "--api-allowed-hosts: another name" 421 "$(code -H "Host: evil.example:$API_PORT" /api/v1/services)"
expect_eq "--api-allowed-hosts: a subdomain of a name of the list" 421 "$(code -H "Host: x.bpfmesh.example" /api/v1/services)"
stop_pid "$AGENT_PID"
start_agent --api-allowed-hosts '*' || finish
expect_eq "--api-allowed-hosts '*': any Host" 200 "$(code -H "Host: evil.example" /api/v1/services)"
expect_eq "--api-allowed-hosts '*': nobody still refused traces" 403 "$(code_nobody /api/v1/traces)"

# --- with a token: the token decides, for root and nobody alike
stop_pid "$AGENT_PID"
TOKEN="t-$ID-$RANDOM"
printf '%s\n' "$TOKEN" > "$TMP/token"
chmod 600 "$TMP/token"
start_agent --api-token-file "$TMP/token" || finish
expect_eq "token set: root without it" 401 "$(code /api/v1/traces)"
expect_eq "token set: nobody with it" 200 "$(code_nobody -H "Authorization: Bearer $TOKEN" /api/v1/traces)"
expect_eq "token set: nobody with it, config" 200 "$(code_nobody -H "Authorization: Bearer $TOKEN" /api/v1/config)"
expect_eq "token set: Host still checked" 421 "$(code -H "Authorization: Bearer $TOKEN" -H "Host: evil.example" /api/v1/traces)"
finish
