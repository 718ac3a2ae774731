#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# outlierDetection.interval decays the ejection multiplier (README: "Ejection
# lasts baseEjectionTime x times ejected"; "`interval` only decays the
# ejection multiplier"): an endpoint ejected again soon after its restore
# stays out twice as long; once it has been healthy for an interval per
# ejection, the multiplier is back to 0 and its next ejection is a first one.
. "$(dirname "$0")/lib.sh"
setup_base
service_yaml web 127.100.0.10 80 18080 roundRobin 127.0.0.1 127.0.0.2 > "$CONF/svc.yaml"
cat >> "$CONF/svc.yaml" <<YAML
---
apiVersion: bpfmesh.io/v1alpha1
kind: TrafficPolicy
metadata: {name: web}
spec:
  service: web
  outlierDetection:
    consecutiveConnectFailures: 1
    baseEjectionTime: 500ms
    interval: 4s
    maxEjectionPercent: 50
YAML
start_echo ep1 -t 127.0.0.1:18080
start_echo ep2 -t 127.0.0.2:18080
EP2=${PIDS[-1]}
start_agent
LOGP="endpoint 127.0.0.2:18080 of default/web:80/TCP/v4"
ep2() { ep_json web 127.0.0.2 "$1"; }
# lines LINE: how often echosrv ep2 has printed LINE (closed, open)
lines() { grep -c "^$1\$" "$TMP/echo-ep2.out"; }
more_lines() { [ "$(lines "$1")" -gt "$2" ]; }
# ep2_fails N: ep2 refuses; a connect meets it and ejects it
ep2_fails() {
	local closed
	closed=$(lines closed)
	kill -USR1 "$EP2"
	wait_for "ep2 closed its listener" 30 more_lines closed "$closed"
	out=$(in_cg "$E2E/lbclient" -n 2 127.100.0.10 80)
	expect_eq "ejection #$1: the connect that met ep2 was refused" 1 "$(errcount "$out" ECONNREFUSED)"
	expect_eq "ejection #$1: ep2" ejected "$(ep2 health)"
	expect_eq "ejection #$1: multiplier (API ejections)" "$1" "$(ep2 ejections)"
}
# ep2_restored: ep2 accepts again; once its ejection is over, the half-open
# trial restores it
ep2_restored() {
	local open
	open=$(lines open)
	kill -USR2 "$EP2"
	wait_for "ep2 listens again" 30 more_lines open "$open"
	trial() { in_cg "$E2E/lbclient" -n 2 127.100.0.10 80 > /dev/null; [ "$(ep2 health)" = healthy ]; }
	wait_for "ep2 restored by a trial" 30 trial
}

ep2_fails 1
wait_log "$LOGP ejected: consecutive connect failures; ejection #1 for 0.5s"
ep2_restored
expect_eq "restored: the multiplier stays until an interval passes" 1 "$(ep2 ejections)"
# again, well within the 4 s interval: twice the base time
ep2_fails 2
wait_log "$LOGP ejected: consecutive connect failures; ejection #2 for 1.0s"
ep2_restored
t0=$(date +%s%N)
# healthy from now on: one step down per interval (4 s) of health
decayed() { [ "$(ep2 ejections)" = 0 ]; }
wait_for "the multiplier decays to 0" 40 decayed
decay_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
# two steps of at least an interval each; however busy the machine, never
# sooner (the agent looks once a second, hence the upper bound's slack)
expect_range "time for the multiplier to decay from 2 to 0 (ms)" 7900 25000 "$decay_ms"
expect_eq "decayed: ep2 still healthy" healthy "$(ep2 health)"
# the next ejection is a first one again: base time
ep2_fails 1
wait_log "$LOGP ejected: consecutive connect failures; ejection #1 for 0.5s" 2
finish
