#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# maglev on an unbound socket hashes the client's cgroup and network
# namespace (README: "consistent hashing on the client's source address, or
# on its cgroup and network namespace when the socket is unbound"): every
# connection of one workload (cgroup) in one namespace goes to the same
# endpoint, from any process, while different cgroups in one namespace, and
# one cgroup in different namespaces, spread over the endpoints.
. "$(dirname "$0")/lib.sh"
setup_base
NCG=24 NNS=12
service_yaml maglev 127.100.0.4 80 18080 maglev 127.0.0.1 127.0.0.2 127.0.0.3 > "$CONF/svc.yaml"
for i in $(seq $NCG); do mkdir -p "$CG/g$i"; done
# the endpoints, in the test's namespace and in each extra one (an endpoint
# address is the same three loopback servers in every namespace)
start_echo_in() { # NETNS NAME ARGS...
	local ns=$1 name=$2; shift 2
	( exec nsenter --net="/run/netns/$ns" "$E2E/echosrv" "$name" "$@" > "$TMP/echo-$ns-$name.out" 2>&1 ) &
	PIDS+=($!)
}
for i in 1 2 3; do start_echo "ep$i" -t "127.0.0.$i:18080"; done
for n in $(seq $NNS); do
	ns="bmt-$ID-m$n"; EXTRA_NS+=("$ns")
	ip netns add "$ns"; ip -n "$ns" link set lo up
	for i in 1 2 3; do start_echo_in "$ns" "ep$i" -t "127.0.0.$i:18080"; done
done
echo_ready() { [ "$(cat "$TMP"/echo-*.out 2>/dev/null | grep -c ready)" -ge $((3 + 3 * NNS)) ]; }
wait_for "every namespace's endpoints listen" 60 echo_ready
start_agent

# pick CGROUP NETNS: the endpoints an unbound client's 6 connections went
# to, "ep2" when all to one, "ep1+ep3" (sorted) when spread, or a failure
pick() {
	local out
	out=$( ( echo $BASHPID > "$CG/$1/cgroup.procs" && exec nsenter --net="/run/netns/$2" \
		"$E2E/lbclient" -n 6 127.100.0.4 80 ) )
	if [ "$(field "$out" failed)" != 0 ] || [ "$(served "$out")" != 6 ]; then
		echo "failed:$(echo "$out" | tr '\n' ' ')"
		return
	fi
	echo "$out" | awk '$1 == "endpoint" { print $2 }' | sort | paste -sd+
}

# cgroups in one namespace: each sticks to one endpoint, and they spread
: > "$TMP/by_cgroup"
for i in $(seq $NCG); do echo "g$i $(pick "g$i" "$NS")" >> "$TMP/by_cgroup"; done
expect_eq "cgroups whose 6 connections all went to one endpoint" $NCG \
	"$(awk '$2 ~ /^ep[123]$/' "$TMP/by_cgroup" | wc -l)"
expect_range "endpoints the $NCG cgroups were spread over" 2 3 "$(awk '{ print $2 }' "$TMP/by_cgroup" | sort -u | wc -l)"
# the same workload again, from new processes: the same endpoint
for i in 1 2 3 4; do
	expect_eq "cgroup g$i again, a new process" "$(awk -v g="g$i" '$1 == g { print $2 }' "$TMP/by_cgroup")" "$(pick "g$i" "$NS")"
done

# one cgroup in different namespaces: each namespace sticks, and they spread
: > "$TMP/by_netns"
for n in $(seq $NNS); do echo "m$n $(pick g1 "bmt-$ID-m$n")" >> "$TMP/by_netns"; done
expect_eq "namespaces whose 6 connections all went to one endpoint" $NNS \
	"$(awk '$2 ~ /^ep[123]$/' "$TMP/by_netns" | wc -l)"
expect_range "endpoints the $NNS namespaces were spread over" 2 3 "$(awk '{ print $2 }' "$TMP/by_netns" | sort -u | wc -l)"
expect_eq "namespace m1 again, a new process" "$(awk '$1 == "m1" { print $2 }' "$TMP/by_netns")" "$(pick g1 "bmt-$ID-m1")"
log "by cgroup: $(awk '{ printf "%s=%s ", $1, $2 }' "$TMP/by_cgroup")"
log "by namespace: $(awk '{ printf "%s=%s ", $1, $2 }' "$TMP/by_netns")"
finish
