#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# outlierDetection.terminateConnections: the mesh's open connections to an
# endpoint that is ejected, or removed from the config, are destroyed
# (bpf_sock_destroy from socket iterators, in the clients' namespace), TCP and
# connected UDP, also v6 sockets sent to a v4 endpoint as ::ffff:EP, so
# clients reconnect to healthy endpoints.
. "$(dirname "$0")/lib.sh"
setup_base
conf() { # endpoints...
	cat > "$CONF/svc.yaml.tmp" <<YAML
apiVersion: bpfmesh.io/v1alpha1
kind: Service
metadata: {name: web}
spec:
  addresses: ["127.100.0.10"]
  ports:
  - {name: t, port: 80, targetPort: 18080}
  - {name: u, port: 53, targetPort: 18053, protocol: UDP}
  loadBalancer: {policy: roundRobin}
  endpoints: [$(for e in "$@"; do printf '{address: "%s"}, ' "$e"; done)]
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec:
  service: web
  outlierDetection: {consecutiveConnectFailures: 1, baseEjectionTime: 60s, maxEjectionPercent: 50, terminateConnections: true}
YAML
	mv "$CONF/svc.yaml.tmp" "$CONF/svc.yaml"
}
conf 127.0.0.1 127.0.0.2
start_echo ep1 -t 127.0.0.1:18080 -u 127.0.0.1:18053
EP1=${PIDS[-1]}
start_echo ep2 -t 127.0.0.2:18080 -u 127.0.0.2:18053
start_agent

exec 7> >(in_cg "$E2E/lbclient" -k -n 10 127.100.0.10 80 > "$TMP/tcp.out")
exec 8> >(in_cg "$E2E/lbclient" -U -k -n 4 127.100.0.10 53 > "$TMP/udp.out")
for f in tcp udp; do
	for _ in $(seq 100); do grep -q peer_mismatch "$TMP/$f.out" 2>/dev/null && break; sleep 0.05; done
done
expect_eq "held tcp connections on ep1" 5 "$(field "$(cat "$TMP/tcp.out")" x ep1)"
# after the others: round robin gives ep1 and ep2 two each
exec 6> >(in_cg "$E2E/lbclient" -M -k -n 4 127.100.0.10 80 > "$TMP/mapped.out")
for _ in $(seq 100); do grep -q peer_mismatch "$TMP/mapped.out" 2>/dev/null && break; sleep 0.05; done
expect_eq "held v4-mapped connections on ep1" 2 "$(field "$(cat "$TMP/mapped.out")" x ep1)"
expect_eq "open connections to ep1 (API)" 7 "$(ep_json web 127.0.0.1 connectionsActive)"

kill -USR1 "$EP1"; sleep 0.2   # ep1 refuses new connections, keeps the old
out=$(in_cg "$E2E/lbclient" -n 2 127.100.0.10 80)
expect_eq "the refused connect that ejects ep1" 1 "$(errcount "$out" ECONNREFUSED)"
wait_log "terminated 7 connection(s) to ejected endpoint 127.0.0.1:18080 in"
sleep 0.2
expect_eq "open connections to ep1 after termination" 0 "$(ep_json web 127.0.0.1 connectionsActive)"
expect_eq "open connections to ep2 untouched" 7 "$(ep_json web 127.0.0.2 connectionsActive)"

conf 127.0.0.1             # ep2 taken out of the config: TCP 5 + v4-mapped 2 + connected UDP 2
wait_log "terminated 9 connection(s) to 2 removed endpoint(s) in"
exec 6>&- 7>&- 8>&-
finish
