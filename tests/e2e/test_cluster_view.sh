#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# test_cluster_view: `bpfmesh services --agents A,B` and `top --agents`
# merge two agents' latency sketches exactly. Two agents stand for two
# nodes: each has its own cgroup, pin directory, network namespace (its
# "node", where its web service and client run) and API port; both serve a
# service "web", one fast (5 ms) and much used, one slow (40 ms) and less
# used. The cluster view must equal the bucket-by-bucket merge of the two
# agents' /api/v1/sketches, computed here independently (counts, errors,
# rates added; p50/p90/p99 of the merged buckets), which for these two
# agents is neither agent's own p99. A third address where no agent listens
# is named in a warning, the view is still printed and the exit status is 3
# (partial); with no agent answering it is 2. --cluster finds the same two
# agents from their pods in a fake API server (tests/e2e/fake_kube.py).
# Both nodes also serve a gRPC service "echo" (tests/e2e/grpc_echo.py, as
# test_grpc.sh): its Service/Method lines are merged per method, counts
# added and quantiles those of the merged buckets, under echo's row in the
# table, in --json and in top.
. "$(dirname "$0")/lib.sh"
setup_base
N1=60 N2=15
G1=6 G2=3 # Say calls of each node's gRPC client (Count 3, Fail 2, Slow 1 each too)
PY=/usr/bin/python3 # Debian's python, where python3-grpcio is installed
GPORT=18710
$PY -c 'import grpc' 2>/dev/null || { fail "python3-grpcio is needed (make deps)"; finish; }
# ports free now: other tests on this machine use lib.sh's fixed ones too
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# the second "node" on 127.0.0.2, same port: as two nodes' agents, which
# --cluster finds at their pod addresses and --agent's port
PORT=$(free_port)
API="127.0.0.1:$PORT"
API2="127.0.0.2:$PORT"
DEAD="127.0.0.1:$(free_port)" # nothing listens there
CG2="$CGROOT/bpfmesh-test2-$ID"
PINS2="/sys/fs/bpf/bpfmesh-test2-$ID"
NS2="bmt2-$ID"
CONF2="$TMP/conf2"
EXTRA_CG+=("$CG2")
EXTRA_NS+=("$NS2")
EXTRA_PINS+=("$PINS2")
AGENT2_PID=""
# the second agent first: stopped, then its attachments removed
cleanup2() {
	local rc=$?
	if [ -n "$AGENT2_PID" ]; then kill "$AGENT2_PID" 2>/dev/null; wait "$AGENT2_PID" 2>/dev/null; fi
	"$BIN" detach --bpffs "$PINS2" --cgroup "$CG2" >/dev/null 2>&1
	return $rc
}
trap 'cleanup2; cleanup' EXIT

mkdir -p "$CG/web" "$CG/client" "$CG/gsrv" "$CG2/web" "$CG2/client" "$CG2/gsrv" "$CONF2"
ip netns add "$NS2"
ip -n "$NS2" link set lo up
for n in 1 2; do
	conf=$([ $n = 1 ] && echo "$CONF" || echo "$CONF2")
	cg=$([ $n = 1 ] && echo "bpfmesh-test-$ID" || echo "bpfmesh-test2-$ID")
	service_yaml web 127.100.7.1 80 18700 - 127.0.0.1 > "$conf/web.yaml"
	cat >> "$conf/web.yaml" <<-YAML
		---
		apiVersion: bpfmesh.io/v1alpha1
		kind: Workload
		metadata: {name: web}
		spec: {service: web, cgroup: $cg/web}
		---
		apiVersion: bpfmesh.io/v1alpha1
		kind: Service
		metadata: {name: echo}
		spec:
		  addresses: ["127.100.7.2"]
		  ports: [{name: grpc, port: 80, targetPort: $GPORT}]
		  endpoints: [{address: "127.0.0.1"}]
		---
		apiVersion: bpfmesh.io/v1alpha1
		kind: Workload
		metadata: {name: echo}
		spec: {service: echo, cgroup: $cg/gsrv}
	YAML
done
( echo $BASHPID > "$CG/web/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	"$E2E/httpsvc" --name web --listen 127.0.0.1:18700 --delay-ms 5 ) > "$TMP/web1.out" 2>&1 &
PIDS+=($!)
( echo $BASHPID > "$CG2/web/cgroup.procs" && exec nsenter --net="/run/netns/$NS2" \
	"$E2E/httpsvc" --name web --listen 127.0.0.1:18700 --delay-ms 40 ) > "$TMP/web2.out" 2>&1 &
PIDS+=($!)
( echo $BASHPID > "$CG/gsrv/cgroup.procs" && exec nsenter --net="/run/netns/$NS" \
	$PY "$ROOT/tests/e2e/grpc_echo.py" rpcserver "127.0.0.1:$GPORT" ) > "$TMP/grpc1.out" 2>&1 &
PIDS+=($!)
( echo $BASHPID > "$CG2/gsrv/cgroup.procs" && exec nsenter --net="/run/netns/$NS2" \
	$PY "$ROOT/tests/e2e/grpc_echo.py" rpcserver "127.0.0.1:$GPORT" ) > "$TMP/grpc2.out" 2>&1 &
PIDS+=($!)
"$BIN" agent --config "$CONF2" --cgroup "$CG2" --bpffs "$PINS2" --listen "$API2" >> "$TMP/agent2.log" 2>&1 &
AGENT2_PID=$!
start_agent
wait_for "the second agent is ready" 60 curl -sf "http://$API2/readyz" -o /dev/null
wait_for "httpsvc web 1 listens" 30 grep -q ready "$TMP/web1.out"
wait_for "httpsvc web 2 listens" 30 grep -q ready "$TMP/web2.out"
wait_for "gRPC echo 1 listens" 60 grep -q ready "$TMP/grpc1.out"
wait_for "gRPC echo 2 listens" 60 grep -q ready "$TMP/grpc2.out"

# traffic on each "node", from its client cgroup to its service address
traffic() { # CGROUP NETNS N OUT
	local urls
	urls=$(for i in $(seq "$3"); do printf 'http://127.100.7.1/r/%d ' "$i"; done)
	( echo $BASHPID > "$1/client/cgroup.procs" && exec nsenter --net="/run/netns/$2" \
		curl -s -o /dev/null -w '%{http_code}\n' $urls ) > "$4" 2>&1
}
traffic "$CG" "$NS" "$N1" "$TMP/codes1"
traffic "$CG2" "$NS2" "$N2" "$TMP/codes2"
expect_eq "node 1: requests answered 200" "$N1" "$(grep -c '^200$' "$TMP/codes1")"
expect_eq "node 2: requests answered 200" "$N2" "$(grep -c '^200$' "$TMP/codes2")"
rpcs() { # CGROUP NETNS N OUT
	( echo $BASHPID > "$1/client/cgroup.procs" && exec nsenter --net="/run/netns/$2" \
		$PY "$ROOT/tests/e2e/grpc_echo.py" rpcclient 127.100.7.2:80 "$3" ) > "$4" 2>&1
}
rpcs "$CG" "$NS" "$G1" "$TMP/rpc1.out"
rpcs "$CG2" "$NS2" "$G2" "$TMP/rpc2.out"
expect_eq "node 1: gRPC calls as made" "Count OK 3;Fail UNAVAILABLE 2;Say OK $G1;Slow DEADLINE_EXCEEDED 1;" \
	"$(tr '\n' ';' < "$TMP/rpc1.out")"
expect_eq "node 2: gRPC calls as made" "Count OK 3;Fail UNAVAILABLE 2;Say OK $G2;Slow DEADLINE_EXCEEDED 1;" \
	"$(tr '\n' ';' < "$TMP/rpc2.out")"

server_count() { # API
	curl -sf "http://$1/api/v1/sketches" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum((s["server"] or {}).get("count", 0) for s in d["services"] if s["name"] == "web"))'
}
counted() { [ "$(server_count "$1")" -ge "$2" ]; }
wait_for "agent 1 has every request in its sketch" 30 counted "$API" "$N1"
wait_for "agent 2 has every request in its sketch" 30 counted "$API2" "$N2"
# every call's server span, the slow one's 500 ms after its deadline, read
# from the latency API the one-agent view uses
rpc_calls() { # API
	curl -sf "http://$1/api/v1/services/echo/latency?window=60s" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(sum(r["requests"] for r in d["routes"] if r["side"] == "server" and r["rpc"]))'
}
rpcs_counted() { [ "$(rpc_calls "$1")" -ge "$2" ]; }
wait_for "agent 1 has every gRPC call" 30 rpcs_counted "$API" $((G1 + 6))
wait_for "agent 2 has every gRPC call" 30 rpcs_counted "$API2" $((G2 + 6))

curl -sf "http://$API/api/v1/sketches" > "$TMP/s1.json"
curl -sf "http://$API2/api/v1/sketches" > "$TMP/s2.json"
out=$("$BIN" services --agents "$API,$API2" --json 2>"$TMP/err"); rc=$?
expect_eq "services --agents A,B --json: exit" 0 "$rc"
echo "$out" > "$TMP/cluster.json"
"$BIN" services --agents "$API,$API2" --no-endpoints > "$TMP/table" 2>&1
# a rate is over the time since the agent started: it falls while nobody
# calls, so the cluster's lies between the agents' rates before and after
curl -sf "http://$API/api/v1/sketches" > "$TMP/s1b.json"
curl -sf "http://$API2/api/v1/sketches" > "$TMP/s2b.json"
python3 - "$TMP/s1.json" "$TMP/s2.json" "$TMP/cluster.json" "$TMP/table" "$N1" "$N2" \
	"$TMP/s1b.json" "$TMP/s2b.json" > "$TMP/check" <<'PY'
import json, sys
s1, s2, cl = (json.load(open(p)) for p in sys.argv[1:4])
table = open(sys.argv[4]).read().splitlines()
n1, n2 = int(sys.argv[5]), int(sys.argv[6])
s1b, s2b = (json.load(open(p)) for p in sys.argv[7:9])
def side(d, name="web", sd="server"):
    return next(s for s in d["services"] if s["name"] == name)[sd]
a, b = side(s1), side(s2)
# the reference merge: buckets added by index, quantiles as the agent answers them
buckets, values = {}, {}
for x in (a, b):
    for i, c, v in x["buckets"]:
        buckets[i] = buckets.get(i, 0) + c
        values[i] = v
count, mx = a["count"] + b["count"], max(a["maxNs"], b["maxNs"])
def q(p, bk=buckets, cnt=count, top=mx):
    rank, seen = int(p * (cnt - 1)), 0
    for i in sorted(bk):
        seen += bk[i]
        if seen > rank:
            return min(values[i], top) if top else values[i]
def own(x, p):
    return q(p, {i: c for i, c, _ in x["buckets"]}, x["count"], x["maxNs"])
w = next(s for s in cl["services"] if s["name"] == "web")
srv = w["latency"]["server"]
print("counts", a["count"], b["count"], n1, n2)
print("requests", srv["requests"] == count, srv["requests"])
print("errors", srv["errors"] == a["errors"] + b["errors"])
ab, bb = side(s1b), side(s2b)
print("rps", ab["rps"] + bb["rps"] - 1e-6 <= srv["rps"] <= a["rps"] + b["rps"] + 1e-6, srv["rps"])
print("after", ab["count"] == a["count"] and bb["count"] == b["count"] and ab["buckets"] == a["buckets"]
      and bb["buckets"] == b["buckets"])
print("max", abs(srv["maxMs"] - mx / 1e6) < 1e-6)
for p, k in ((0.5, "p50Ms"), (0.9, "p90Ms"), (0.99, "p99Ms")):
    print(k, abs(srv[k] - q(p) / 1e6) < 1e-9, srv[k], q(p) / 1e6)
# the merge is not any one agent's answer: node 2's slow requests make the p99
print("p99_not_own", own(a, 0.99) != q(0.99) and own(b, 0.5) != q(0.5), own(a, 0.99), own(b, 0.99), q(0.99))
print("agents_field", w["agents"], cl["partial"], [x["answered"] for x in cl["agents"]])
row = [l.split() for l in table if l.split() and l.split()[0] == "web"]
print("table_row", bool(row) and row[0][-1] == "2/2", row)
print("table_head", table[0].startswith("cluster: 2 of 2 agents answered"), table[0])
# echo's gRPC methods: each agent's server rpcs, their merge in --json and
# the lines under echo's row in the table
def rpcs(d, key="count"):
    s = next((s for s in d["services"] if s["name"] == "echo"), {})
    return {r["route"].split("/")[-1]: r for r in s.get("rpcs") or [] if r["side"] == "server"}
r1, r2, rc = rpcs(s1), rpcs(s2), rpcs(cl)
print("rpc_counts", " ".join("%s=%d+%d" % (m, r1[m]["count"], r2.get(m, {}).get("count", 0))
                             for m in sorted(r1)))
print("rpc_merged", " ".join("%s=%d/%d" % (m, rc[m]["requests"], rc[m]["agents"]) for m in sorted(rc)))
def mq(xs, p):
    bk, vals = {}, {}
    for x in xs:
        for i, c, v in x["buckets"]:
            bk[i] = bk.get(i, 0) + c
            vals[i] = v
    cnt, top = sum(x["count"] for x in xs), max(x["maxNs"] for x in xs)
    rank, seen = int(p * (cnt - 1)), 0
    for i in sorted(bk):
        seen += bk[i]
        if seen > rank:
            return min(vals[i], top) if top else vals[i]
ok = bool(rc) and all(
    abs(rc[m][k] - mq([x[m] for x in (r1, r2) if m in x], p) / 1e6) < 1e-9
    and rc[m]["errors"] == sum(x[m]["errors"] for x in (r1, r2) if m in x)
    for m in rc for p, k in ((0.5, "p50Ms"), (0.9, "p90Ms"), (0.99, "p99Ms")))
print("rpc_quantiles", ok)
lines, on = [], False
for l in table:
    f = l.split()
    if f and not l.startswith("  "):
        on = f[0] == "echo"
    elif on and f and f[0].startswith("bpfmesh.test.Echo/"):
        lines.append("%s %s %s" % (f[0].split("/")[-1], "ms" if f[3].endswith("ms") else f[3], f[-1]))
print("rpc_table", ";".join(sorted(lines)))
PY
val() { awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$TMP/check"; }
log "agents' samples and the merge: $(val counts); p99 $(val p99Ms)"
expect_eq "each agent counted its node's requests" "$N1 $N2 $N1 $N2" "$(val counts)"
expect_eq "merged requests = the sum" True "$(val requests | cut -d' ' -f1)"
expect_eq "merged errors = the sum" True "$(val errors)"
expect_eq "no sample came or went during the checks" True "$(val after)"
expect_eq "merged rps = the agents' rates added" True "$(val rps | cut -d' ' -f1)"
expect_eq "merged max = the larger max" True "$(val max)"
for k in p50Ms p90Ms p99Ms; do
	expect_eq "merged $k = $k of the merged buckets" True "$(val $k | cut -d' ' -f1)"
done
expect_eq "the merged quantiles are neither agent's own" True "$(val p99_not_own | cut -d' ' -f1)"
expect_eq "both agents saw web, none partial" "2 False [True, True]" "$(val agents_field)"
expect_eq "table: web row, AGENTS 2/2" True "$(val table_row | cut -d' ' -f1)"
expect_eq "table: header" True "$(val table_head | cut -d' ' -f1)"
expect_eq "each agent's sketches: echo's server rpcs, per method" \
	"Count=3+3 Fail=2+2 Say=$G1+$G2 Slow=1+1" "$(val rpc_counts)"
expect_eq "merged rpcs: calls added per method, both agents" \
	"Count=6/2 Fail=4/2 Say=$((G1 + G2))/2 Slow=2/2" "$(val rpc_merged)"
expect_eq "merged rpcs: p50/p90/p99 of the merged buckets, errors added" True "$(val rpc_quantiles)"
expect_eq "table: echo's Service/Method lines (P50, AGENTS)" \
	"Count ms 2/2;Fail ms 2/2;Say ms 2/2;Slow ms 2/2" "$(val rpc_table)"

# an agent that does not answer: named, the view partial (exit 3)
out=$("$BIN" services --agents "$API,$DEAD,$API2" 2>"$TMP/err"); rc=$?
expect_eq "one agent away: exit status (partial)" 3 "$rc"
grep -q "warning: agent $DEAD did not answer" "$TMP/err" && pass "the warning names $DEAD" ||
	fail "no warning naming $DEAD: $(cat "$TMP/err")"
echo "$out" | grep -q '^cluster: 2 of 3 agents answered' && pass "the partial table says 2 of 3" ||
	fail "partial table: $out"
expect_eq "partial table: web row" "web 2/2" "$(echo "$out" | awk '$1 == "web" { print $1, $NF }')"
"$BIN" services --agents "$DEAD" > "$TMP/out" 2>"$TMP/err"
expect_eq "no agent answers: exit status" 2 "$?"
expect_eq "no agent answers: nothing on stdout" 0 "$(wc -c < "$TMP/out")"
"$BIN" services --agents "$API,,$API2" > /dev/null 2>&1
expect_eq "--agents with an empty element: exit status" 2 "$?"
"$BIN" services --cluster > /dev/null 2>"$TMP/err"
expect_eq "--cluster outside a pod without --kubeconfig: exit status" 2 "$?"
grep -q -- '--agents' "$TMP/err" && pass "--cluster says what it needs" || fail "--cluster: $(cat "$TMP/err")"

# --cluster: the agents from the DaemonSet's running pods in the API (a fake
# API server): the same view as --agents; other pods are not asked
echo tok > "$TMP/kube-token"
python3 "$ROOT/tests/e2e/fake_kube.py" --ready-file "$TMP/kube.ready" --token-file "$TMP/kube-token" \
	> "$TMP/kube.log" 2>&1 &
PIDS+=($!)
wait_for "the fake API server starts" 10 test -s "$TMP/kube.ready"
read -r KPORT KCTL < "$TMP/kube.ready"
cat > "$TMP/kubeconfig" <<KC
apiVersion: v1
kind: Config
current-context: test
contexts:
- {name: test, context: {cluster: fake, user: cli}}
clusters:
- {name: fake, cluster: {server: "http://127.0.0.1:$KPORT"}}
users:
- {name: cli, user: {tokenFile: kube-token}}
KC
pod() { # NAME IP PHASE APP
	curl -sf -X POST "http://127.0.0.1:$KCTL/apply" -d "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",
		\"metadata\":{\"name\":\"$1\",\"namespace\":\"bpfmesh-system\",
		\"labels\":{\"app.kubernetes.io/name\":\"$4\",\"app.kubernetes.io/component\":\"agent\"}},
		\"spec\":{\"nodeName\":\"$1\"},\"status\":{\"phase\":\"$3\",\"podIP\":\"$2\"}}" >/dev/null ||
		fail "apply pod $1"
}
pod agent-a 127.0.0.1 Running bpfmesh
pod agent-b 127.0.0.2 Running bpfmesh
pod agent-c 127.0.0.4 Pending bpfmesh
pod other 127.0.0.3 Running something-else
"$BIN" services --cluster --kubeconfig "$TMP/kubeconfig" --agent "127.0.0.1:$PORT" --json \
	> "$TMP/kcluster.json" 2>"$TMP/err"
expect_eq "services --cluster --kubeconfig: exit" 0 "$?"
python3 - "$TMP/kcluster.json" "$TMP/cluster.json" <<'PY' > "$TMP/kcheck"
import json, sys
k, a = (json.load(open(p)) for p in sys.argv[1:3])
print("asked", sorted(x["address"] for x in k["agents"]))
ws = [next(s for s in d["services"] if s["name"] == "web")["latency"]["server"] for d in (k, a)]
print("same", all(ws[0][f] == ws[1][f] for f in ("requests", "errors", "p50Ms", "p90Ms", "p99Ms", "maxMs")))
PY
expect_eq "--cluster asks the running agent pods at --agent's port" \
	"['127.0.0.1:$PORT', '127.0.0.2:$PORT']" "$(awk '$1 == "asked" { $1 = ""; sub(/^ /, ""); print }' "$TMP/kcheck")"
expect_eq "--cluster: the same merged view as --agents" "same True" "$(grep '^same' "$TMP/kcheck")"
pod agent-c 127.0.0.4 Running bpfmesh # a pod whose agent is away
"$BIN" services --cluster --kubeconfig "$TMP/kubeconfig" --agent "127.0.0.1:$PORT" > /dev/null 2>"$TMP/err"
expect_eq "--cluster with an agent pod that does not answer: exit status" 3 "$?"
grep -q "agent 127.0.0.4:$PORT did not answer" "$TMP/err" && pass "the warning names it" ||
	fail "no warning: $(cat "$TMP/err")"
echo other > "$TMP/kube-token-wrong"
sed 's/tokenFile: kube-token/tokenFile: kube-token-wrong/' "$TMP/kubeconfig" > "$TMP/kubeconfig-wrong"
"$BIN" services --cluster --kubeconfig "$TMP/kubeconfig-wrong" --agent "127.0.0.1:$PORT" > /dev/null 2>"$TMP/err"
expect_eq "--cluster with a token the API refuses: exit status" 2 "$?"
grep -q "cannot find the cluster's agents" "$TMP/err" && pass "says it cannot find the agents" ||
	fail "API refusal: $(cat "$TMP/err")"

# top: the same view, refreshed
out=$("$BIN" top --agents "$API,$API2" -n 2 --interval 0.2 2>&1); rc=$?
expect_eq "top --agents -n 2: exit" 0 "$rc"
expect_eq "top --agents: two frames, web in each" 2 "$(echo "$out" | awk '$1 == "web" && $NF == "2/2"' | wc -l)"
# (the clients' row, python3, has the same methods as a client)
expect_eq "top --agents: echo's Say line in each frame" 2 \
	"$(echo "$out" | awk '!/^  / { on = $1 == "echo" } on && $1 == "bpfmesh.test.Echo/Say" && $NF == "2/2"' | wc -l)"
"$BIN" top --agents "$API,$DEAD" -n 1 > /dev/null 2>&1
expect_eq "top with an agent away: exit status (partial)" 3 "$?"
finish
