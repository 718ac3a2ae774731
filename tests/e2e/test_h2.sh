#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# HTTP/2 (h2c) capture end to end, with Debian's nghttpd as the server (a
# Workload) and real clients in the test cgroup:
#  - nghttp, N requests with distinct paths in flight at once on one
#    connection (one a 404, one a 100 kB body over many segments): N SERVER
#    spans with their paths and statuses; each nghttp CLIENT span inside
#    nghttp's own time for that request (request start to response end,
#    its scheduling delays included; nghttpd reports none), the median
#    difference within 1 ms;
#  - curl --http2-prior-knowledge: one more request, its CLIENT span too,
#    by a name (--resolve) on a connection that closes before the agent
#    reads its records: server.* is the service address all the same;
#  - h2load -c 2 -m 16: as many SERVER spans as requests, 16 streams in
#    flight per connection; its CLIENT spans against its per-request log
#    (which names no request): no quantile of the spans above the log's,
#    the medians within 1 ms;
#  - h2c upgrade: curl --http2 through nghttpx (Workload h2up; nghttpd does
#    not upgrade), which asks nghttpd over HTTP/2 in turn: the HTTP/1.1
#    request that asked for the upgrade (its CLIENT span ends at the 101,
#    and so does nghttpx's SERVER span), then the requests that follow on
#    the upgraded connection, both sides;
#  - nghttpx as an HTTP/1.1 server (curl --http1.1, no upgrade): a request
#    alone on its connection, then two on one keep-alive connection, each
#    with its SERVER span, a child of curl's CLIENT span and inside it.
#    nghttpx's listener has TCP_DEFER_ACCEPT: the first request of a
#    connection reaches the cgroup hook on the listening socket, before
#    the connection's own socket exists (bpf/http.bpf.c, struct http_early);
#  - HTTP/2 with prior knowledge to nghttpx (curl, and nghttp with two
#    streams): the preface reaches the listener the same way (h2.bpf.h's
#    h2_early); each request's SERVER span, a child of its CLIENT span and
#    inside it;
#  - the latency API and /metrics count the requests; none was on a
#    desynchronised connection.
. "$(dirname "$0")/lib.sh"
setup_base
N=12
H2N=${H2N:-400}
RECV_PORT=$((API_PORT + 1))
PORT=18200 UPORT=18201
for w in srv proxy client; do mkdir -p "$CG/$w"; done
for c in nghttpd nghttp h2load nghttpx; do
	command -v $c >/dev/null ||
		{ fail "$c is needed (make deps: nghttp2-server nghttp2-client nghttp2-proxy)"; finish; }
done
cat > "$CONF/h2.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: h2web}
spec:
  addresses: ["127.100.2.1"]
  ports: [{name: http, port: 80, targetPort: $PORT}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: h2web}
spec: {service: h2web, cgroup: bpfmesh-test-$ID/srv}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: h2up}
spec:
  addresses: ["127.100.2.2"]
  ports: [{name: http, port: 80, targetPort: $UPORT}]
  endpoints: [{address: "127.0.0.1"}]
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: h2up}
spec: {service: h2up, cgroup: bpfmesh-test-$ID/proxy}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: traces}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", timeout: 2s}
  sampling: {ratio: 1.0}
  routes: ["/files/{name}"]
YAML
mkdir -p "$TMP/www/files"
for i in $(seq $N); do head -c $((i * 1000)) /dev/zero | tr '\0' a > "$TMP/www/files/f$i"; done
head -c 100000 /dev/zero > "$TMP/www/files/big" # DATA frames over many segments
echo hello > "$TMP/www/files/load"
"$E2E/otlp_receiver" --port "$RECV_PORT" > "$TMP/spans.jsonl" 2> "$TMP/receiver.err" &
PIDS+=($!)
( echo $BASHPID > "$CG/srv/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	nghttpd --no-tls -a 127.0.0.1 -d "$TMP/www" "$PORT" ) > "$TMP/nghttpd.out" 2>&1 &
PIDS+=($!)
( echo $BASHPID > "$CG/proxy/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	nghttpx --conf=/dev/null --workers=1 --frontend="127.0.0.1,$UPORT;no-tls" \
	--backend="127.0.0.1,$PORT;;proto=h2" --pid-file="$TMP/nghttpx.pid" ) > "$TMP/nghttpx.out" 2>&1 &
PIDS+=($!)
start_agent
listening() { in_ns ss -Hltn "sport = :$1" | grep -q LISTEN; }
wait_for "nghttpd listens" 30 listening $PORT
wait_for "nghttpx listens" 30 listening $UPORT
client() { ( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" ); }

# 1. nghttp: N files, a 404 and the big one, at once on one connection;
# curl, prior knowledge: one more
urls=""
for i in $(seq $N); do urls="$urls http://127.100.2.1/files/f$i"; done
urls="$urls http://127.100.2.1/files/missing http://127.100.2.1/files/big"
client nghttp -ns $urls > "$TMP/nghttp.out" 2>&1
expect_eq "nghttp: answers" $((N + 2)) "$(grep -c ' /files/' "$TMP/nghttp.out")"
# by a name (its :authority), on a connection that closes at once: its
# CLIENT span's server.* is still the service address it connected to
client curl -s --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}\n' \
	--resolve h2web.test:80:127.100.2.1 http://h2web.test/files/f2?curl > "$TMP/curl.out" 2>&1
expect_eq "curl --http2-prior-knowledge" "2 200" "$(cat "$TMP/curl.out")"
# 2. h2load: many streams in flight on two connections
client h2load -c 2 -m 16 -n "$H2N" --log-file="$TMP/h2load.log" \
	http://127.100.2.1/files/load > "$TMP/h2load.out" 2>&1
expect_eq "h2load: requests succeeded" "$H2N" \
	"$(awk '/^requests:/ { for (i = 1; i < NF; i++) if ($(i + 1) == "succeeded,") print $i }' "$TMP/h2load.out")"
# 3. curl, h2c upgrade through nghttpx: the first request asks for it
for u in u1 u2; do
	client curl -s --http2 -o /dev/null -w '%{http_version}\n' http://127.100.2.2/files/f1?$u \
		>> "$TMP/upgrade.out" 2>&1
done
client nghttp -nsu http://127.100.2.2/files/f1?u3 http://127.100.2.2/files/f2?u4 \
	http://127.100.2.2/files/f3?u5 > "$TMP/nghttp-u.out" 2>&1
expect_eq "curl --http2: upgraded" "2 2" "$(echo $(cat "$TMP/upgrade.out"))"
expect_eq "nghttp -u: answers" 3 "$(grep -c ' /files/f' "$TMP/nghttp-u.out")"
# 4. curl --http1.1 through nghttpx: one request alone, then two on one
# keep-alive connection
client curl -s --http1.1 -o /dev/null -w '%{http_version} %{http_code}\n' \
	http://127.100.2.2/files/f1?h1 > "$TMP/h1.out" 2>&1
client curl -s --http1.1 -o /dev/null -o /dev/null -w '%{http_version} %{http_code}\n' \
	http://127.100.2.2/files/f2?h2 http://127.100.2.2/files/f3?h3 >> "$TMP/h1.out" 2>&1
expect_eq "curl --http1.1 through nghttpx" "1.1 200 1.1 200 1.1 200" "$(echo $(cat "$TMP/h1.out"))"
# 5. HTTP/2 with prior knowledge through nghttpx: curl, then nghttp with two
# streams on one connection
client curl -s --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}\n' \
	http://127.100.2.2/files/f1?p1 > "$TMP/pk.out" 2>&1
client nghttp -ns http://127.100.2.2/files/f2?p2 http://127.100.2.2/files/f3?p3 \
	> "$TMP/nghttp-pk.out" 2>&1
expect_eq "curl --http2-prior-knowledge through nghttpx" "2 200" "$(cat "$TMP/pk.out")"
expect_eq "nghttp through nghttpx: answers" 2 "$(grep -c ' /files/f' "$TMP/nghttp-pk.out")"

# h2web: nghttp N + 2, curl 1, h2load, and the 11 that nghttpx passes on;
# h2up: those 11, 3 of them HTTP/1.1 requests that upgraded, 3 HTTP/1.1
# requests that did not, 3 HTTP/2 with prior knowledge
TOTAL=$((N + 3 + H2N + 11))
for _ in $(seq 80); do
	[ "$(grep -c '"kind":2' "$TMP/spans.jsonl")" -ge $((TOTAL + 11)) ] && break
	sleep 0.25
done
sleep 1
/usr/bin/python3 - "$TMP/spans.jsonl" "$TMP/nghttp.out" "$TMP/h2load.log" "$N" "$H2N" \
	> "$TMP/check.out" <<'PY'
import json, sys, collections
spans = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
n, h2n = int(sys.argv[4]), int(sys.argv[5])
def svc(s): return s["resource"].get("service.name")
def at(s, k): return s["attributes"].get(k)
server = [s for s in spans if s["kind"] == 2 and svc(s) == "h2web"]
up = [s for s in spans if s["kind"] == 2 and svc(s) == "h2up"]
paths = collections.Counter(at(s, "url.path") for s in server)
print("server_spans", len(server))
print("load_spans", paths.get("/files/load", 0))
print("nghttp_paths", sum(1 for i in range(1, n + 1) if paths.get("/files/f%d" % i, 0) >= 1))
print("big_spans", paths.get("/files/big", 0))
st = {at(s, "url.path"): at(s, "http.response.status_code") for s in server}
print("status_missing", st.get("/files/missing"))
# the requests that asked nghttpx for an upgrade (u1..u3) end at their 101
print("bad_status", sum(1 for s in server + up if at(s, "http.response.status_code") not in (200, 404)
                        and not (s in up and at(s, "http.response.status_code") == 101
                                 and at(s, "url.query") in ("u1", "u2", "u3"))))
f2 = next((s for s in server if at(s, "url.path") == "/files/f2"), None)
print("route", at(f2, "http.route") if f2 else None)
print("name", f2["name"].replace(" ", "_") if f2 else None)
print("proto", at(f2, "network.protocol.version") if f2 else None)
print("curl_client", sum(1 for s in spans if s["kind"] == 3 and svc(s) == "curl"
                         and at(s, "url.query") == "curl" and at(s, "http.response.status_code") == 200))
cc = next((s for s in spans if s["kind"] == 3 and svc(s) == "curl" and at(s, "url.query") == "curl"), None)
print("curl_server", "%s:%s" % (at(cc, "server.address"), at(cc, "server.port")) if cc else None)
print("curl_url", at(cc, "url.full") if cc else None)
# the upgrade: HTTP/1.1 requests (u1, u2, u3) and HTTP/2 ones (u4, u5)
upq = collections.Counter((at(s, "url.query"), at(s, "network.protocol.version")) for s in up)
print("up_h2", sum(upq[(q, "2")] for q in ("u4", "u5")))
uc = collections.Counter((at(s, "url.query"), at(s, "network.protocol.version"),
                          at(s, "http.response.status_code"))
                         for s in spans if s["kind"] == 3 and svc(s) in ("curl", "nghttp"))
print("upc_h1", sum(uc[(q, "1.1", 101)] for q in ("u1", "u2", "u3")))
print("upc_h2", sum(uc[(q, "2", 200)] for q in ("u4", "u5")))
print("up_passed_on", sum(1 for s in server if (at(s, "url.query") or "")[:1] in ("u", "h", "p")))
# nghttpx's SERVER spans of HTTP/1.1 requests: the upgrades (ended by their
# 101) and the plain ones (h1 alone on its connection, h2 and h3 on one);
# each the child of its client's CLIENT span, and inside it (the 101 ends
# both)
cl = {at(s, "url.query"): s for s in spans if s["kind"] == 3 and svc(s) in ("curl", "nghttp")}
def h1_server(qs, status, version="1.1"):
    n = 0
    for s in up:
        q, c = at(s, "url.query"), cl.get(at(s, "url.query"))
        if (q in qs and at(s, "network.protocol.version") == version
                and at(s, "http.response.status_code") == status and c
                and s["parent_span_id"] == c["span_id"] and s["trace_id"] == c["trace_id"]
                and c["start_unix_ns"] <= s["start_unix_ns"] <= s["end_unix_ns"] <= c["end_unix_ns"]):
            n += 1
    return n
print("up_h1_upgrade", h1_server(("u1", "u2", "u3"), 101))
print("up_h1_plain", h1_server(("h1", "h2", "h3"), 200))
print("up_h1_all", sum(1 for s in up if at(s, "network.protocol.version") == "1.1"))
print("up_h2_prior", h1_server(("p1", "p2", "p3"), 200, "2"))
# nghttp's CLIENT spans against nghttp's own times (request start to end)
mine = {}
for l in open(sys.argv[2]):
    f = l.split()
    if len(f) == 7 and f[6].startswith("/files/") and f[3].endswith("us"):
        mine[f[6]] = float(f[3][:-2]) if not f[3].endswith("ms") else float(f[3][:-2]) * 1e3
    elif len(f) == 7 and f[6].startswith("/files/") and f[3].endswith("ms"):
        mine[f[6]] = float(f[3][:-2]) * 1e3
cs = [s for s in spans if s["kind"] == 3 and svc(s) == "nghttp" and at(s, "url.path") in mine
      and not at(s, "url.query")]
# a span (wire to wire) lies inside nghttp's own time (its clock before
# the write, after the read: scheduling delays included, milliseconds on a
# busy machine): never past it, and close to it at the median
over, what, diffs = -10**9, "-", []
for s in cs:
    p = at(s, "url.path")
    d = (s["end_unix_ns"] - s["start_unix_ns"]) / 1e3
    diffs.append(abs(d - mine[p]))
    if d - mine[p] > over:
        over, what = d - mine[p], "%s span %.0f us nghttp %.0f us" % (p, d, mine[p])
diffs.sort()
print("nghttp_measured", len(mine))
print("nghttp_compared", len(cs))
print("nghttp_span_over_us", int(max(over, 0)))
print("nghttp_closest_to_past", what.replace(" ", "_"))
print("nghttp_median_diff_us", int(diffs[len(diffs) // 2]) if diffs else -1)
# h2load's CLIENT spans against its log, quantile by quantile
log = sorted(int(l.split()[2]) for l in open(sys.argv[3]) if len(l.split()) >= 3)
hs = sorted((s["end_unix_ns"] - s["start_unix_ns"]) / 1e3 for s in spans
            if s["kind"] == 3 and svc(s) == "h2load")
print("h2load_client_spans", len(hs))
# each request's span (wire to wire) lies inside h2load's own time for it
# (write to read, its event loop's delays included, milliseconds on a busy
# machine at the tail): so does every quantile; the medians are close
over, med = -1, -1
if log and len(hs) == len(log):
    over = 0
    for q in (0.1, 0.5, 0.9, 0.99):
        i = int(q * (len(log) - 1))
        over = max(over, hs[i] - log[i])
        print("h2load_q%d span %d log %d" % (int(q * 100), hs[i], log[i]))
    med = abs(hs[len(hs) // 2] - log[len(log) // 2])
print("h2load_span_over_log_us", int(max(over, 0)) if over >= 0 else -1)
print("h2load_median_diff_us", int(med))
PY
sed "s/^/  /" "$TMP/check.out"
val() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/check.out"; }
expect_eq "h2web SERVER spans (nghttp $((N + 2)), curl 1, h2load $H2N, via nghttpx 11)" "$TOTAL" \
	"$(val server_spans)"
expect_eq "h2load: one SERVER span per request" "$H2N" "$(val load_spans)"
expect_eq "nghttp: every path has its span" "$N" "$(val nghttp_paths)"
expect_eq "the big response (DATA over many segments)" 1 "$(val big_spans)"
expect_eq "status of a missing file" 404 "$(val status_missing)"
expect_eq "no other status" 0 "$(val bad_status)"
expect_eq "http.route" "/files/{name}" "$(val route)"
expect_eq "span name" "GET_/files/{name}" "$(val name)"
expect_eq "network.protocol.version" 2 "$(val proto)"
expect_eq "curl CLIENT span, status 200" 1 "$(val curl_client)"
expect_eq "curl CLIENT span: server.* is the service address it connected to" "127.100.2.1:80" \
	"$(val curl_server)"
expect_eq "curl CLIENT span: url.full has the name it asked for" "http://h2web.test/files/f2?curl" \
	"$(val curl_url)"
expect_eq "upgrade: the HTTP/1.1 requests that asked, ended by their 101 (CLIENT)" 3 \
	"$(val upc_h1)"
expect_eq "upgrade: HTTP/2 requests after it (CLIENT)" 2 "$(val upc_h2)"
expect_eq "upgrade: HTTP/2 requests after it (h2up SERVER)" 2 "$(val up_h2)"
expect_eq "upgrade: the HTTP/1.1 requests that asked, ended by their 101 (h2up SERVER, in the CLIENT's)" \
	3 "$(val up_h1_upgrade)"
expect_eq "HTTP/1.1 to nghttpx: SERVER spans, children of curl's CLIENT spans and inside them" 3 \
	"$(val up_h1_plain)"
expect_eq "h2up: no other HTTP/1.1 SERVER span" 6 "$(val up_h1_all)"
expect_eq "HTTP/2 with prior knowledge to nghttpx: SERVER spans, children of the CLIENT spans and inside them" \
	3 "$(val up_h2_prior)"
expect_eq "h2web: what nghttpx passed on" 11 "$(val up_passed_on)"
expect_eq "nghttp CLIENT spans compared" $((N + 2)) "$(val nghttp_compared)"
expect_range "nghttp: spans past nghttp's own time (us)" 0 100 "$(val nghttp_span_over_us)"
expect_range "nghttp: median |span - nghttp's time| (us)" 0 1000 "$(val nghttp_median_diff_us)"
expect_eq "h2load CLIENT spans" "$H2N" "$(val h2load_client_spans)"
expect_range "h2load: span quantiles past its log's (us)" 0 100 "$(val h2load_span_over_log_us)"
expect_range "h2load: |median span - median of its log| (us)" 0 1000 "$(val h2load_median_diff_us)"

# 6. TLS (openssl s_server -www, curl https): counted, never parsed
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=tls.test -days 1 -keyout "$TMP/key.pem" \
	-out "$TMP/cert.pem" > /dev/null 2>&1
( echo $BASHPID > "$CG/srv/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	openssl s_server -quiet -www -accept 18202 -cert "$TMP/cert.pem" -key "$TMP/key.pem" ) \
	> "$TMP/s_server.out" 2>&1 &
PIDS+=($!)
wait_for "openssl s_server listens" 30 listening 18202
for _ in 1 2; do
	client curl -sk -o /dev/null -w '%{http_code}\n' https://127.0.0.1:18202/ >> "$TMP/tls.out" 2>&1
done
expect_eq "curl over TLS" "200 200" "$(echo $(cat "$TMP/tls.out"))"
sleep 0.5
tls=$(api_curl -sf "http://$API/api/v1/config" | /usr/bin/python3 -c '
import json, sys
t = json.load(sys.stdin)["tracing"]["tls"]
print(t["clientHellosSent"], t["clientHellosReceived"])')
expect_eq "TLS connections counted (sent, received)" "2 2" "$tls"
expect_eq "no span of a TLS connection" 0 "$(grep -c '"server.port":18202' "$TMP/spans.jsonl")"
expect_eq "bpfmesh status shows them" 1 \
	"$("$BIN" status --agent "$API" 2>/dev/null | grep -c '^TLS: *2 connections sent a ClientHello, 2 received')"
tls_metric=$(api_curl -sf "http://$API/metrics" | awk '/^bpfmesh_capture_tls_connections/ && /side="client"/ { print $NF }')
expect_eq "bpfmesh_capture_tls_connections{side=client}" 2 "$tls_metric"

# the API's latency and the metrics count them; nothing was lost
api_curl -sf "http://$API/api/v1/services/h2web/latency?window=300s" > "$TMP/latency.json"
api_curl -sf "http://$API/api/v1/config" > "$TMP/config.json"
api_curl -sf "http://$API/metrics" > "$TMP/metrics.txt"
/usr/bin/python3 - "$TMP/latency.json" "$TMP/config.json" > "$TMP/api.out" <<'PY'
import json, sys
lat = json.load(open(sys.argv[1]))
def walk(o):
    if isinstance(o, dict):
        yield o
        for v in o.values():
            yield from walk(v)
    elif isinstance(o, list):
        for v in o:
            yield from walk(v)
routes = [r for r in walk(lat) if r.get("route") == "/files/{name}" and r.get("side") == "server"]
print("route_count", sum(r.get("requests", 0) for r in routes) if routes else -1)
h2 = next((o["http2"] for o in walk(json.load(open(sys.argv[2]))) if "http2" in o), {})
print("desync", h2.get("desyncRequests", -1))
print("h2_requests", h2.get("requests", -1))
PY
sed 's/^/  /' "$TMP/api.out"
av() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/api.out"; }
expect_eq "latency API: /files/{name} server requests" "$TOTAL" "$(av route_count)"
expect_eq "requests on desynchronised connections" 0 "$(av desync)"
expect_range "HTTP/2 requests the agent followed" "$TOTAL" $((3 * TOTAL)) "$(av h2_requests)"
srv_count=$(awk '/^http_server_request_duration_seconds_count/ && /service_name="h2web"/ { s += $NF } END { print s + 0 }' "$TMP/metrics.txt")
expect_eq "http_server_request_duration_seconds_count{h2web}" "$TOTAL" "$srv_count"
finish
