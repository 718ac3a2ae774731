#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# SIGKILL the agent: balancing goes on. A restarted agent adopts the pins
# without breaking open connections, and unpins the maps of an earlier
# bpfmesh's layout. `bpfmesh detach` leaves nothing behind.
. "$(dirname "$0")/lib.sh"
setup_base
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  addresses: ["127.100.0.10"]
  ports: [{name: http, port: 80, targetPort: 18080}]
  loadBalancer: {policy: roundRobin}
  endpoints: [{address: "127.0.0.1"}, {address: "127.0.0.2"}, {address: "127.0.0.3"}]
YAML
for i in 1 2 3; do start_echo "ep$i" -t "127.0.0.$i:18080"; done
start_agent

# hold 6 connections across the kill and the restart
exec 7> >(in_cg "$E2E/lbclient" -k -n 6 127.100.0.10 80 > "$TMP/held.out")
wait_client "$TMP/held.out"
expect_eq "held connections" 6 "$(served "$(cat "$TMP/held.out")")"

kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=""
out=$(in_cg "$E2E/lbclient" -n 300 127.100.0.10 80)
for i in 1 2 3; do expect_eq "agent dead: ep$i" 100 "$(field "$out" x "ep$i")"; done

# a map an earlier bpfmesh pinned under a name this one retired (its maglev
# tables, before they were mmapable): the restarted agent unpins it
bpftool map create "$PINS/maps/lb_maglev" type array key 4 value 4 entries 1 name lb_maglev ||
	fail "bpftool could not pin an old lb_maglev"
start_agent
grep -q "removed $PINS/maps/lb_maglev, a map of an earlier bpfmesh" "$TMP/agent.log" &&
	[ ! -e "$PINS/maps/lb_maglev" ] && pass "the retired lb_maglev pin was removed" ||
	fail "lb_maglev still pinned: $(ls "$PINS/maps" | tr '\n' ' ')"
grep -q "12 taken over from pinned links" "$TMP/agent.log" && pass "restart took over 12 pinned links" \
	|| fail "no takeover: $(grep attached "$TMP/agent.log")"
# one service port (v4), its 3 endpoints and its one frontend
expect_eq "restart adopted the pinned maps" "adopted pinned state: 1 services, 3 endpoints, 1 frontends" \
	"$(grep -o "adopted pinned state: .*" "$TMP/agent.log")"
out=$(in_cg "$E2E/lbclient" -n 300 127.100.0.10 80)
for i in 1 2 3; do expect_eq "after restart: ep$i" 100 "$(field "$out" x "ep$i")"; done
active=$(curl -sf "http://$API/api/v1/services/web" | grep -o '"connectionsActive":[0-9]*' | cut -d: -f2 | awk '{s+=$1} END {print s}')
expect_eq "held connections still open and counted" 6 "$active"
exec 7>&-

# bm_ programs on the cgroup, from bpftool (which must work: a failing
# bpftool is not "no programs")
cg_progs() {
	bpftool -j cgroup show "$CG" > "$TMP/cg.json" || { echo "bpftool-failed"; return; }
	# bpftool prints nothing for a cgroup without programs
	python3 -c 'import json,sys; t = open(sys.argv[1]).read()
print(sum(p["name"].startswith("bm_") for p in json.loads(t)) if t.strip() else 0)' "$TMP/cg.json"
}
expect_range "programs on the cgroup before detach" 1 64 "$(cg_progs)"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=""
"$BIN" detach --bpffs "$PINS" --cgroup "$CG" > "$TMP/detach.out"
log "$(cat "$TMP/detach.out")"
[ -e "$PINS" ] && fail "pins left under $PINS: $(ls -R "$PINS")" || pass "no pins left"
expect_eq "programs left on the cgroup" 0 "$(cg_progs)"
out=$(in_cg "$E2E/lbclient" -n 5 127.100.0.10 80)
expect_eq "after detach the VIP is plain loopback (refused)" 5 "$(errcount "$out" ECONNREFUSED)"
finish
