#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The HTTP API's answers the README promises beyond test_cli_api's: /readyz
# is 503 with its reason while no configuration is applied, and 200 once one
# is; HEAD answers like GET (status, headers) without a body; a `window`
# outside 10s-15m is a 400 with a JSON error, 15m itself is fine.
. "$(dirname "$0")/lib.sh"
setup_base
# an invalid configuration from the start: nothing can be applied
service_yaml web 127.100.0.10 80 18080 - 127.0.0.1 | sed 's/127.100.0.10/127.100.0.300/' > "$CONF/web.yaml"
"$BIN" agent --config "$CONF" --cgroup "$CG" --bpffs "$PINS" --listen "$API" >> "$TMP/agent.log" 2>&1 &
AGENT_PID=$!
wait_log "config rejected"
code() { api_curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
attached() { grep -q "attached .* programs" "$TMP/agent.log"; }
wait_for "the agent attached its programs" 60 attached

expect_eq "/readyz with no configuration applied" 503 "$(code "http://$API/readyz")"
python3 - "$TMP/body" > "$TMP/readyz" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("ready", d["ready"])
print("attached", d["attached"])
print("applied", d["configApplied"])
print("reason", d.get("reason", "-"))
PY
val() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$TMP/readyz"; }
expect_eq "/readyz 503: ready" False "$(val ready)"
expect_eq "/readyz 503: programs attached" True "$(val attached)"
expect_eq "/readyz 503: configuration applied" False "$(val applied)"
case "$(val reason)" in
*"web.yaml:5:"*'"127.100.0.300" is not an IPv4 or IPv6 address'*) pass "/readyz 503: the reason is the configuration's error" ;;
*) fail "/readyz 503: reason '$(val reason)'" ;;
esac
expect_eq "/healthz meanwhile" 200 "$(code "http://$API/healthz")"

# the configuration fixed: ready
service_yaml web 127.100.0.10 80 18080 - 127.0.0.1 > "$CONF/web.yaml.tmp"
mv "$CONF/web.yaml.tmp" "$CONF/web.yaml"
wait_log "config applied"
expect_eq "/readyz once a configuration is applied" 200 "$(code "http://$API/readyz")"
expect_eq "/readyz 200: no reason" None "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("reason"))' "$TMP/body")"

# HEAD: GET's status and headers, no body (read off the socket itself)
head_req() { # PATH: "STATUS CONTENT-TYPE CONTENT-LENGTH BODY-BYTES"
	api_curl -s -o /dev/null "http://$API/healthz" # (the API is up)
	python3 - "$API" "$1" <<'PY'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=10)
s.sendall(f"HEAD {sys.argv[2]} HTTP/1.1\r\nHost: {sys.argv[1]}\r\nConnection: close\r\n\r\n".encode())
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
lines = head.decode().split("\r\n")
h = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
print(lines[0].split()[1], h.get("content-type", "-").split(";")[0], h.get("content-length", "-"), len(body))
PY
}
get_req() { # PATH: "STATUS CONTENT-TYPE BODY-BYTES"
	api_curl -s -o "$TMP/get.body" -w '%{http_code} %{content_type}' "http://$API$1" | sed 's/;.*//'
	echo " $(wc -c < "$TMP/get.body")"
}
for p in /healthz /readyz /metrics /api/v1/services /api/v1/services/web /api/v1/services/web/latency \
	/api/v1/traces /api/v1/status /api/v1/config /api/v1/services/nosuch '/api/v1/services?window=1h'; do
	read -r gs gt gn <<< "$(get_req "$p")"
	read -r hs ht hl hn <<< "$(head_req "$p")"
	expect_eq "HEAD $p: GET's status and type" "$gs $gt" "$hs $ht"
	expect_eq "HEAD $p: no body" 0 "$hn"
	# a length that a GET's body would have (the figures in it may move)
	expect_range "HEAD $p: Content-Length of a body" 1 $((gn * 2 + 100)) "$hl"
done
read -r hs ht hl hn <<< "$(head_req /healthz)"
expect_eq "HEAD /healthz: Content-Length is GET's body's" "$(api_curl -s "http://$API/healthz" | wc -c)" "$hl"

# window: 10s..15m
for w in 10s 60s 5m 15m 900s 900; do
	expect_eq "window=$w" 200 "$(code "http://$API/api/v1/services?window=$w")"
	expect_eq "window=$w: the window in force (s)" "$(python3 -c "print({'10s':10,'60s':60,'5m':300}.get('$w', 900))")" \
		"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["services"][0]["latency"]["windowSeconds"])' "$TMP/body")"
done
for w in 16m 901s 901 1h 15m1s 9s 0 -1m abc; do
	for p in "/api/v1/services?window=$w" "/api/v1/services/web?window=$w" "/api/v1/services/web/latency?window=$w"; do
		expect_eq "GET $p" 400 "$(code "http://$API$p")"
		grep -q '"error":"window must be a duration from 10s to 15m' "$TMP/body" ||
			fail "$p: error body $(cat "$TMP/body")"
	done
done
finish
