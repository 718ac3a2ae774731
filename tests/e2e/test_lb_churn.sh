#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Per-socket kernel state is freed on every close path and a full map never
# shows a live socket the wrong address. Many MPTCP connections and many
# unconnected UDP sockets go through a service address and close; the
# pinned per-socket maps (lb_conns, lb_udp_rev, lb_udp_aff2) must be back to
# about zero. Then the maps are filled with held sockets (the agent runs with
# a small --max-sockets): the sockets beyond the limit are refused and
# counted, and sockets that were open before the map filled still see the
# service address. One UDP socket may hold LB_UDP_PAIRS_MAX (16) pairs.
# CHURN_MAX_SOCKETS=65536 CHURN_N=70000 runs it at the default map size.
. "$(dirname "$0")/lib.sh"
MAXS=${CHURN_MAX_SOCKETS:-1024}
N=${CHURN_N:-$((MAXS + MAXS / 2))}
setup_base
cat > "$CONF/svc.yaml" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: echo}
spec:
  addresses: ["127.100.0.10"]
  ports:
  - {name: tcp, port: 80, targetPort: 18080}
  - {name: udp, port: 53, targetPort: 18053, protocol: UDP}
  endpoints: [{address: "127.0.0.1"}, {address: "127.0.0.2"}]
YAML
for i in $(seq 17); do
	echo "---"
	service_yaml "u$i" "127.100.1.$i" 53 18053 - 127.0.0.1 | sed 's/targetPort: 18053}/targetPort: 18053, protocol: UDP}/'
done >> "$CONF/svc.yaml"
for i in 1 2; do start_echo "ep$i" -t "127.0.0.$i:18080" -u "127.0.0.$i:18053"; done
if [ "$MAXS" = 65536 ]; then start_agent; else start_agent --max-sockets "$MAXS"; fi
ulimit -n "$(ulimit -Hn)" # the clients hold up to MAXS + 50 sockets each

# entries MAP: how many entries a pinned map holds
entries() {
	bpftool -j map dump pinned "$PINS/maps/$1" 2>/dev/null |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo missing
}
# settle MAP MAX: wait until MAP holds at most MAX entries, then print the count
settle() {
	local n
	for _ in $(seq 50); do
		n=$(entries "$1")
		[ "$n" != missing ] && [ "$n" -le "$2" ] && break
		sleep 0.1
	done
	echo "$n"
}

# a live socket of each kind, open through all of it
# The held clients stop holding when their stdin (fds 5-8 here) closes: a
# child started later must not inherit those fds, or it keeps them open.
noheld() { exec 5>&- 6>&- 7>&- 8>&-; }
# wait_held FILE...: until each held client has printed its second answer
wait_held() {
	for f in "$@"; do
		for _ in $(seq 300); do grep -q '^held_mismatch' "$f" 2>/dev/null && break; sleep 0.1; done
	done
}
exec 7> >(noheld; in_cg "$E2E/lbclient" -k -n 1 127.100.0.10 80 > "$TMP/live-tcp.out")
exec 8> >(noheld; in_cg "$E2E/lbclient" -u -k -n 1 127.100.0.10 53 > "$TMP/live-udp.out")
for f in live-tcp live-udp; do
	for _ in $(seq 100); do grep -q peer_mismatch "$TMP/$f.out" 2>/dev/null && break; sleep 0.05; done
done
expect_eq "live tcp socket connected" 0 "$(field "$(cat "$TMP/live-tcp.out")" failed)"
expect_eq "live udp socket answered" 0 "$(field "$(cat "$TMP/live-udp.out")" failed)"

# MPTCP: the connect hook runs on the first subflow, a kernel socket that
# never passes sock_release; the MPTCP socket the application holds does
mptcp=$(in_ns sysctl -n net.mptcp.enabled 2>/dev/null)
[ "$mptcp" = 1 ] || in_ns sysctl -qw net.mptcp.enabled=1
expect_eq "net.mptcp.enabled in the test namespace" 1 "$(in_ns sysctl -n net.mptcp.enabled)"
out=$(in_cg "$E2E/lbclient" -P -n "$N" 127.100.0.10 80)
expect_eq "mptcp connections failed" 0 "$(field "$out" failed)"
expect_eq "mptcp getpeername mismatches" 0 "$(field "$out" peer_mismatch)"
expect_range "lb_conns after $N mptcp connections closed (the live socket's)" 0 2 \
	"$(settle lb_conns 2)"

# unconnected UDP: one socket per request, closed after the answer
out=$(in_cg "$E2E/lbclient" -u -n "$N" 127.100.0.10 53)
expect_eq "udp requests failed" 0 "$(field "$out" failed)"
expect_eq "udp recvfrom source mismatches" 0 "$(field "$out" peer_mismatch)"
expect_range "lb_udp_rev after $N udp sockets closed" 0 2 "$(settle lb_udp_rev 2)"
expect_range "lb_udp_aff2 after $N udp sockets closed" 0 2 "$(settle lb_udp_aff2 2)"

# one unconnected UDP socket to 17 services: the 17th pair is refused
out=$(in_cg python3 -c '
import errno, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
ok = err = bad = 0
for i in range(1, 18):
    dst = ("127.100.1.%d" % i, 53)
    try:
        s.sendto(b"hi\n", dst)
        _, src = s.recvfrom(128)
        ok += 1
        bad += src != dst
    except OSError as e:
        err += e.errno == errno.ECONNREFUSED
print("answered", ok)
print("refused", err)
print("peer_mismatch", bad)
')
expect_eq "one udp socket, 17 services: answered" 16 "$(field "$out" answered)"
expect_eq "one udp socket, 17 services: 17th refused" 1 "$(field "$out" refused)"
expect_eq "one udp socket, 17 services: source mismatches" 0 "$(field "$out" peer_mismatch)"
expect_eq "udp_pairs_full refusals counted" 1 "$(refusal udpPairsFull)"
expect_range "lb_udp_rev after that socket closed" 0 2 "$(settle lb_udp_rev 2)"

# a long-lived socket whose service moves to another endpoint 20 times (the
# old one taken out of the config): pairs of moved services are reused
start_echo mv $(for k in $(seq 3 22); do echo -u "127.0.0.$k:18053"; done) 7>&- 8>&-
move_to() { # k: the service mv has the one endpoint 127.0.0.k
	local before
	before=$(grep -c "config applied" "$TMP/agent.log")
	service_yaml mv 127.100.2.1 53 18053 - "127.0.0.$1" |
		sed 's/targetPort: 18053}/targetPort: 18053, protocol: UDP}/' > "$CONF/mv.yaml.tmp"
	mv "$CONF/mv.yaml.tmp" "$CONF/mv.yaml"
	wait_log "config applied" $((before + 1))
}
move_to 3
coproc MV { noheld; in_cg python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
dst = ("127.100.2.1", 53)
for _ in sys.stdin:
    try:
        s.sendto(b"hi\n", dst)
        _, src = s.recvfrom(128)
        print("ok" if src == dst else "mismatch %s" % (src,))
    except OSError as e:
        print("error %s" % e)
'; }
moved_ok=0
for k in $(seq 3 22); do
	[ "$k" -gt 3 ] && move_to "$k"
	echo >&"${MV[1]}"
	read -r -t 5 reply <&"${MV[0]}" || reply=timeout
	[ "$reply" = ok ] && moved_ok=$((moved_ok + 1)) || log "move to 127.0.0.$k: $reply"
done
expect_eq "one socket, service moved 20 times: answered from the service address" 20 "$moved_ok"
expect_eq "udp_pairs_full refusals after the moves" 1 "$(refusal udpPairsFull)"
kill "${MV_PID:-}" 2>/dev/null
wait "${MV_PID:-}" 2>/dev/null

# fill the maps with held sockets: what does not fit is refused and counted
# (each client holds MAXS + 50 sockets: only where the fd limit allows)
if [ $((MAXS + 200)) -gt "$(ulimit -n)" ]; then
	log "maps of $MAXS entries: too large to fill with held sockets here, not filled"
	exec 7>&- 8>&-
	wait_held "$TMP/live-tcp.out" "$TMP/live-udp.out"
	expect_eq "live tcp socket: getpeername at the end" 0 \
		"$(field "$(cat "$TMP/live-tcp.out")" held_mismatch)"
	expect_eq "live udp socket: reply source at the end" 0 \
		"$(field "$(cat "$TMP/live-udp.out")" held_mismatch)"
	finish
fi
exec 5> >(noheld; in_cg "$E2E/lbclient" -P -k -n $((MAXS + 50)) 127.100.0.10 80 > "$TMP/fill-tcp.out")
for _ in $(seq 600); do grep -q peer_mismatch "$TMP/fill-tcp.out" 2>/dev/null && break; sleep 0.1; done
out=$(cat "$TMP/fill-tcp.out")
expect_range "mptcp connections beyond lb_conns refused" 40 60 "$(errcount "$out" ECONNREFUSED)"
expect_eq "mptcp getpeername mismatches while filling" 0 "$(field "$out" peer_mismatch)"
expect_range "conns_full refusals counted" 40 60 "$(refusal connsFull)"
expect_eq "/metrics shows conns_full" 1 \
	"$(api_curl -sf "http://$API/metrics" | grep -c '^bpfmesh_refusals_total{reason="conns_full"} [1-9]')"
exec 6> >(noheld; in_cg "$E2E/lbclient" -u -k -n $((MAXS + 50)) 127.100.0.10 53 > "$TMP/fill-udp.out")
for _ in $(seq 600); do grep -q peer_mismatch "$TMP/fill-udp.out" 2>/dev/null && break; sleep 0.1; done
out=$(cat "$TMP/fill-udp.out")
expect_range "udp sockets beyond lb_udp_rev refused" 40 60 "$(errcount "$out" ECONNREFUSED)"
expect_eq "udp recvfrom mismatches while filling" 0 "$(field "$out" peer_mismatch)"
expect_range "revnat_full refusals counted" 40 60 "$(refusal revnatFull)"

# the sockets that were open before the maps filled still see the service address
exec 7>&- 8>&-
wait_held "$TMP/live-tcp.out" "$TMP/live-udp.out"
expect_eq "live tcp socket: getpeername after the map was full" 0 \
	"$(field "$(cat "$TMP/live-tcp.out")" held_mismatch)"
expect_eq "live udp socket: reply source after the map was full" 0 \
	"$(field "$(cat "$TMP/live-udp.out")" held_mismatch)"
exec 5>&- 6>&-
wait_held "$TMP/fill-tcp.out" "$TMP/fill-udp.out"
expect_eq "held mptcp sockets: getpeername at the end" 0 "$(field "$(cat "$TMP/fill-tcp.out")" held_mismatch)"
expect_eq "held udp sockets: reply source at the end" 0 "$(field "$(cat "$TMP/fill-udp.out")" held_mismatch)"
expect_range "lb_conns after every socket closed" 0 2 "$(settle lb_conns 0)"
expect_range "lb_udp_rev after every socket closed" 0 2 "$(settle lb_udp_rev 0)"
finish
