#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The agent on a Kubernetes API server (tests/e2e/fake_kube.py): a Service
# with a ClusterIP in 127.100.0.0/16 and an EndpointSlice of three endpoints
# on 127.0.0.0/8 balances for real; an endpoint turned not-ready (a MODIFIED
# slice) leaves the rotation within one second under continuous traffic,
# with no failed request; a watch answered 410 relists and converges; with
# the API server stopped traffic keeps flowing, /readyz stays ready and the
# error counter rises (one log line per resource and outage), and after it
# starts again a change converges.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kubelib.sh"
setup_base
start_fake --history 1000
kapply '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"prod"}}'
kapply "$(k8s_svc prod web 127.100.0.10 80 18080)"
kapply "$(k8s_slice prod web-a web 18080 127.0.0.1:true 127.0.0.2:true 127.0.0.3:true)"
for i in 1 2 3 4; do start_echo "ep$i" -t "127.0.0.$i:18080"; done
start_kube_agent

out=$(in_cg "$E2E/lbclient" -n 300 127.100.0.10 80)
expect_eq "prod/web: failed" 0 "$(field "$out" failed)"
expect_eq "prod/web: served" 300 "$(served "$out")"
expect_eq "prod/web: getpeername mismatches" 0 "$(field "$out" peer_mismatch)"
for i in 1 2 3; do expect_range "prod/web: ep$i" 50 150 "$(field "$out" x "ep$i")"; done
expect_eq "status: every resource synced" True "$(kstatus 'all(r["synced"] for r in k["resources"].values())')"
expect_eq "status: no Kubernetes errors" 0 "$(kstatus 'sum(r["errors"] for r in k["resources"].values())')"

# A client that connects again and again (a new connection each time) and
# writes "WALLTIME NAME" per connection, "WALLTIME ERR errno" per failure.
FLOW="$TMP/flow.log"
in_cg python3 -c '
import socket, sys, time
out = open(sys.argv[1], "w", buffering=1)
while True:
    t = time.time()
    try:
        s = socket.create_connection(("127.100.0.10", 80), timeout=3)
        name = s.recv(64).decode().strip()
        s.close()
        out.write("%.4f %s\n" % (t, name or "ERR empty"))
    except OSError as e:
        out.write("%.4f ERR %s\n" % (t, e.errno))
    time.sleep(0.002)
' "$FLOW" &
PIDS+=($!)
wait_for "continuous client runs" 20 grep -qs ep "$FLOW"
now() { date +%s.%N; }
# seen_after NAME T: whether NAME served a connection started after T
seen_after() { awk -v n="$1" -v t="$2" '$2 == n && $1 > t { f = 1 } END { exit !f }' "$FLOW"; }
# last_after NAME T: ms from T to the last connection NAME served that started after T (0: none)
last_after() { awk -v n="$1" -v t="$2" '$2 == n && $1 > t && $1 > m { m = $1 } END { printf "%d\n", m ? (m - t) * 1000 : 0 }' "$FLOW"; }

log "an endpoint turned not-ready, five times"
times=()
for trial in 1 2 3 4 5; do
	t0=$(now)
	kapply "$(k8s_slice prod web-a web 18080 127.0.0.1:true 127.0.0.2:false 127.0.0.3:true)"
	sleep 2.5 # generous: the bound is checked on the connections' own times
	ms=$(last_after ep2 "$t0")
	times+=("$ms")
	t1=$(now)
	kapply "$(k8s_slice prod web-a web 18080 127.0.0.1:true 127.0.0.2:true 127.0.0.3:true)"
	wait_for "trial $trial: ep2 back in the rotation" 20 seen_after ep2 "$t1"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
log "not-ready -> last connection to it (ms): $(echo $sorted)"
expect_range "median time for a not-ready endpoint to leave the rotation (ms)" 0 1000 "$(echo "$sorted" | sed -n 3p)"
expect_range "slowest of five (ms)" 0 2000 "$(echo "$sorted" | tail -1)"
expect_eq "failed requests under the changes" 0 "$(grep -c ERR "$FLOW")"

log "410: the watch's version is gone"
LISTS='sum(r["lists"] for r in k["resources"].values())'
lists_before=$(kstatus "$LISTS")
ctl gone '{"count": 5, "mode": "event"}'
ctl drop
t0=$(now)
kapply "$(k8s_slice prod web-a web 18080 127.0.0.1:true 127.0.0.2:true 127.0.0.3:true 127.0.0.4:true)"
wait_for "after a 410: the new endpoint ep4 serves" 20 seen_after ep4 "$t0"
[ "$(kstatus "$LISTS")" -gt "$lists_before" ] &&
	pass "listed again after the 410 ($lists_before -> $(kstatus "$LISTS") lists)" || fail "no relist after the 410"

log "the API server stopped"
errors_before=$(kube_errors)
ctl stop
t0=$(now)
sleep 3
expect_eq "/readyz while the API server is down" 200 \
	"$(api_curl -s -o /dev/null -w '%{http_code}' "http://$API/readyz")"
[ "$(kube_errors)" -gt "$errors_before" ] 2>/dev/null && pass "bpfmesh_kube_watch_errors_total rises ($errors_before -> $(kube_errors))" ||
	fail "bpfmesh_kube_watch_errors_total did not rise: $errors_before -> $(kube_errors)"
expect_eq "status: services failing" True "$(kstatus 'k["resources"]["services"]["failing"]')"
for i in 1 2 3 4; do seen_after "ep$i" "$t0" && pass "ep$i serves while the API server is down" || fail "ep$i not seen during the outage"; done
expect_eq "failed requests during the outage" 0 "$(grep -c ERR "$FLOW")"
sleep 2 # more retries: still one log line per resource and outage
expect_eq "outage log lines for services" 1 "$(grep -c 'kube: services: .*stay in force' "$TMP/agent.log")"
# a change made while it was down, seen once it serves again
kapply "$(k8s_slice prod web-a web 18080 127.0.0.1:true 127.0.0.2:true 127.0.0.3:true 127.0.0.4:false)"
ctl start
t1=$(now)
n_endpoints() { [ "$(svc_json prod/web 'len(s["endpoints"])' 2>/dev/null)" = "$1" ]; }
services_ok() { [ "$(kstatus 'k["resources"]["services"]["failing"]' 2>/dev/null)" = False ]; }
wait_for "API server back: the change made meanwhile is applied (3 endpoints)" 40 n_endpoints 3
wait_for "status: services no longer failing" 20 services_ok
t2=$(now)
sleep 1.5
seen_after ep4 "$t2" && fail "ep4 still chosen after the change converged" || pass "ep4 left the rotation"
grep -q 'kube: services: the API server answers again' "$TMP/agent.log" && pass "the end of the outage is logged" ||
	fail "no log line for the end of the outage"
expect_eq "failed requests in the whole test" 0 "$(grep -c ERR "$FLOW")"

log "a file that defines the same Service: warned once, not at every reload"
cat > "$CONF/.web.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web, namespace: prod}
spec:
  addresses: ["127.100.0.10"]
  ports: [{port: 80, targetPort: 18080}]
  endpoints: [{address: "127.0.0.1"}, {address: "127.0.0.2"}, {address: "127.0.0.3"}]
YAML
mv "$CONF/.web.yaml" "$CONF/web.yaml"
wait_log 'warn  config: .*Service "prod/web" is also defined'
applied=$(grep -c "config applied" "$TMP/agent.log")
for i in 1 2 3; do
	kapply "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"other-$i\"}}"
	wait_log "config applied" $((applied + i))
done
expect_eq "the conflict's warning lines after 3 more reloads" 1 \
	"$(grep -c 'warn  config: .*Service "prod/web" is also defined' "$TMP/agent.log")"
finish
