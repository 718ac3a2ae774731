#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Request metrics end to end: a client calls a service with a known 20 ms
# service time through the agent. /metrics passes `promtool check metrics`;
# a real Prometheus server scrapes the agent and answers PromQL on the
# histogram; the latency API's p50 is the median of what the service itself
# measured for its requests (about 20 ms, more on a busy machine); the CLI
# prints the service; OTLP metrics reach a test receiver. Sampling keeps only a few
# traces: metrics count every request anyway.
. "$(dirname "$0")/lib.sh"
setup_base
command -v promtool >/dev/null && command -v prometheus >/dev/null ||
	{ fail "promtool/prometheus not installed (Debian package prometheus)"; finish; }
N=60
RECV_PORT=$((API_PORT + 1))
PROM_PORT=$((API_PORT + 2))
METRICS_PORT=$((API_PORT + 3))
mkdir -p "$CG/web" "$CG/client"
service_yaml web 127.100.3.1 80 18300 - 127.0.0.1 > "$CONF/shop.yaml"
cat >> "$CONF/shop.yaml" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: Workload
metadata: {name: web}
spec: {service: web, cgroup: bpfmesh-test-$ID/web}
---
apiVersion: bpfmesh.io/v1alpha1
kind: Telemetry
metadata: {name: telemetry}
spec:
  otlp: {endpoint: "http://127.0.0.1:$RECV_PORT", metricsInterval: 1s}
  sampling: {ratio: 0.05, alwaysSampleErrors: true}
  routes: ["/api/v1/items/{id}"]
  prometheus: {listen: "127.0.0.1:$METRICS_PORT"}
YAML
"$E2E/otlp_receiver" --port "$RECV_PORT" --metrics-out "$TMP/metrics.jsonl" > /dev/null 2> "$TMP/receiver.err" &
PIDS+=($!)
( echo $BASHPID > "$CG/web/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	"$E2E/httpsvc" --name web --listen 127.0.0.1:18300 --delay-ms 20 --timing ) > "$TMP/web.out" 2>&1 &
PIDS+=($!)
start_agent
wait_for "httpsvc web listens" 30 grep -q ready "$TMP/web.out"
urls=$(for i in $(seq $N); do printf 'http://127.100.3.1/api/v1/items/%d ' "$i"; done)
( echo $BASHPID > "$CG/client/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	curl -s -o /dev/null -w '%{http_code}\n' $urls ) > "$TMP/codes" 2>&1
expect_eq "requests answered 200" "$N" "$(grep -c '^200$' "$TMP/codes")"
# what the service measured itself ("request GET PATH 200 WIRE_US APP_US":
# from its socket's timestamps of the request's first byte in and the
# response's last byte out): its 40th, 50th and 60th percentiles, and the
# histogram buckets (OpenTelemetry's defaults, ms) the 40th and 60th fall in
python3 - "$TMP/web.out" > "$TMP/measured" <<'PY'
import sys
us = sorted(int(l.split()[4]) for l in open(sys.argv[1])
            if l.startswith("request ") and int(l.split()[4]) >= 0)
b = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000, 1e9]
pct = lambda q: us[min(len(us) - 1, int(q * len(us)))] if us else -1
lo = max(x for x in b if x * 1000 < pct(0.4))
hi = min(x for x in b if x * 1000 >= pct(0.6))
print(len(us), pct(0.4), pct(0.5), pct(0.6), lo, int(hi))
PY
read -r m_n m_p40 m_p50 m_p60 m_blo m_bhi < "$TMP/measured"
log "the service's own times: p40 $m_p40 us, p50 $m_p50 us, p60 $m_p60 us (buckets ${m_blo}..${m_bhi} ms)"
expect_eq "requests the service timed itself" "$N" "$m_n"
expect_range "the service's own median (us): at least its 20 ms delay" 20000 10000000 "$m_p50"
# a p50 in us agrees with the service's own times within the sketch's 1%
# and the 1 ms by which a tracer's and a socket's timestamps may differ
p50_lo=$(( m_p40 * 99 / 100 - 1000 )) p50_hi=$(( m_p60 * 101 / 100 + 1000 ))
# spans are held briefly for late partners: until every request is counted
web_count() {
	curl -sf "http://$API/metrics" |
		awk '/^http_server_request_duration_seconds_count\{/ && /service_name="web"/ { s += $2 } END { print s + 0 }'
}
all_counted() { [ "$(web_count)" -ge "$N" ]; }
wait_for "every request in the histogram" 30 all_counted
curl -sf "http://$API/metrics" > "$TMP/metrics.txt"
if promtool check metrics < "$TMP/metrics.txt" > "$TMP/promtool.out" 2>&1; then
	pass "promtool check metrics"
else
	fail "promtool check metrics: $(head -5 "$TMP/promtool.out")"
fi
count=$(awk '/^http_server_request_duration_seconds_count\{/ && /service_name="web"/ { s += $2 } END { print s + 0 }' "$TMP/metrics.txt")
expect_eq "web SERVER requests in the histogram (all, not only sampled)" "$N" "$count"
grep -q '^# TYPE bpfmesh_connections_opened_total counter' "$TMP/metrics.txt" &&
	pass "bpfmesh_connections_opened_total is a counter" || fail "no bpfmesh_connections_opened_total"
grep -q 'http_route="/api/v1/items/{id}"' "$TMP/metrics.txt" && pass "http_route label from the template" ||
	fail "no http_route label"

# Telemetry.prometheus.listen: /metrics on a port of its own, nothing else
m2=$(curl -sf "http://127.0.0.1:$METRICS_PORT/metrics" | grep -c '^http_server_request_duration_seconds_count')
expect_range "series on the prometheus.listen port" 1 100 "$m2"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$METRICS_PORT/api/v1/services")
expect_eq "the API is not on the metrics port" 404 "$code"

# a real Prometheus scrapes the agent and answers PromQL on the histogram
cat > "$TMP/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
- job_name: bpfmesh
  static_configs: [{targets: ["$API"]}]
YAML
( exec prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/prom" \
	--web.listen-address="127.0.0.1:$PROM_PORT" ) > "$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
q='sum(http_server_request_duration_seconds_count{service_name="web"})'
got=""
for _ in $(seq 60); do
	got=$(curl -sf -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$q" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null)
	[ -n "$got" ] && break
	sleep 0.5
done
expect_eq "PromQL $q" "$N" "$got"
q='histogram_quantile(0.5, sum by (le) (http_server_request_duration_seconds_bucket{service_name="web"}))'
p50=$(curl -sf -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$q" |
	python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1]) * 1000) if r else -1)')
expect_range "PromQL histogram_quantile(0.5) in ms (the service's own median's buckets)" "$m_blo" "$m_bhi" "$p50"

# deploy/dashboards/bpfmesh.json: every query is valid PromQL for this
# Prometheus, and the request panels show the service (rate() wants two
# scrapes of a series: until it answers for the service)
rate_q='sum(rate(http_server_request_duration_seconds_count{service_name="web"}[1m]))'
has_rate() {
	curl -sf -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$rate_q" |
		python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["data"]["result"] else 1)' 2>/dev/null
}
wait_for "Prometheus has a rate for web" 60 has_rate
python3 - "$ROOT/deploy/dashboards/bpfmesh.json" "127.0.0.1:$PROM_PORT" > "$TMP/dash.out" <<'PY'
import json, sys, urllib.parse, urllib.request
dash = json.load(open(sys.argv[1]))
bad = empty = 0
for p in dash["panels"]:
    for t in p.get("targets", []):
        q = t["expr"].replace("$service", ".*").replace("$namespace", ".*").replace("$__rate_interval", "1m")
        url = "http://%s/api/v1/query?%s" % (sys.argv[2], urllib.parse.urlencode({"query": q}))
        try:
            r = json.load(urllib.request.urlopen(url, timeout=5))
        except Exception as e:
            r = {"status": "error", "error": str(e)}
        if r.get("status") != "success":
            bad += 1
            print("bad", p["title"], r.get("error"))
        elif p["title"] in ("Request rate", "Latency p50 / p99") and not r["data"]["result"]:
            empty += 1
            print("empty", p["title"])
print("invalid", bad)
print("empty", empty)
PY
expect_eq "dashboard queries Prometheus rejects" 0 "$(awk '$1 == "invalid" { print $2 }' "$TMP/dash.out")"
expect_eq "dashboard request panels without data" 0 "$(awk '$1 == "empty" && NF == 2 { print $2 }' "$TMP/dash.out")"

# the latency API: p50 as the service measured it
api_p50=$(curl -sf "http://$API/api/v1/services/web/latency?window=60s" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(int(d["server"]["p50Ms"] * 1000))')
expect_range "API p50 of web (us)" "$p50_lo" "$p50_hi" "$api_p50"
lat=$(curl -sf "http://$API/api/v1/services/web/latency?window=60s" | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = [x for x in d["routes"] if x["route"] == "/api/v1/items/{id}" and x["side"] == "server"]
print(d["server"]["requests"], d["server"]["errors"], r[0]["requests"] if r else 0)')
expect_eq "API server requests, errors, route requests" "$N 0 $N" "$lat"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$API/api/v1/services/web/latency?window=5s")
expect_eq "window below 10s is a 400" 400 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$API/api/v1/services/nope/latency")
expect_eq "unknown service is a 404" 404 "$code"
"$BIN" services --agent "$API" > "$TMP/cli.out" 2>&1
awk '$1 ~ /web/ { found = 1 } END { exit !found }' "$TMP/cli.out" && pass "bpfmesh services lists web" ||
	fail "services: $(cat "$TMP/cli.out")"
cli_p50=$("$BIN" services --agent "$API" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
s = [x for x in d["services"] if x["name"] == "web"][0]
print(int(s["latency"]["server"]["p50Ms"] * 1000))')
expect_range "bpfmesh services --json p50 (us)" "$p50_lo" "$p50_hi" "$cli_p50"

# OTLP metrics: the histogram arrives at the receiver with every request
for _ in $(seq 20); do
	grep -q '"http.server.request.duration"' "$TMP/metrics.jsonl" 2>/dev/null && break
	sleep 0.25
done
otlp_count=$(python3 - "$TMP/metrics.jsonl" <<'PY'
import json, sys
last = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("name") == "http.server.request.duration" and d["resource"].get("service.name") == "web":
        key = json.dumps(d["attributes"], sort_keys=True)
        last[key] = d["count"]
print(sum(last.values()))
PY
)
expect_eq "OTLP http.server.request.duration count for web" "$N" "$otlp_count"
finish
