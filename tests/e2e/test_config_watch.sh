#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The agent follows its config path, not the directory it found at start:
# a directory moved away and made again, deleted and made again, a
# Kubernetes ConfigMap volume swapping its "..data" symlink; a file still
# being written is not applied half-written, and SIGHUP reloads.
. "$(dirname "$0")/lib.sh"
setup_base

svc() { # NAME LAST-OCTET: one Service document
	service_yaml "$1" "127.100.9.$2" 80 8080 - 127.0.0.1
}
# the applied services' names, sorted, on one line
names() {
	api_curl -sf "http://$API/api/v1/config" | python3 -c '
import json, sys
print(" ".join(sorted(s["name"] for s in json.load(sys.stdin)["services"])))'
}
# wait_names WHAT EXPECTED: poll until the applied set is EXPECTED (5 s)
wait_names() {
	local got=""
	for _ in $(seq 100); do
		got=$(names)
		[ "$got" = "$2" ] && { pass "$1: services = $got"; return 0; }
		sleep 0.05
	done
	fail "$1: expected services '$2', got '$got'"
}
reloads() { api_curl -sf "http://$API/api/v1/config" | python3 -c 'import json,sys; print(json.load(sys.stdin)["reloads"])'; }

svc a 1 > "$CONF/a.yaml"
start_agent
wait_names "start" "a"

# mv cfg cfg.old; mkdir cfg
mv "$CONF" "$CONF.old"
mkdir "$CONF"
svc b 2 > "$CONF/b.yaml"
wait_names "directory moved away, a new one made" "b"
svc z 9 > "$CONF.old/z.yaml"
sleep 0.5 # the quiet period and more: nothing may change
expect_eq "an edit of the moved-away directory is ignored" "b" "$(names)"
grep -q "config directory $CONF was" "$TMP/agent.log" && pass "the swap is logged" ||
	fail "no log line about the replaced directory"

# rm -rf cfg; mkdir cfg
rm -rf "$CONF"
sleep 0.3
expect_eq "directory deleted: the configuration in force stays" "b" "$(names)"
mkdir "$CONF"
svc c 3 > "$CONF/c.yaml"
wait_names "directory deleted and made again" "c"

# a file written slowly: half of it parses (one whole document of two)
exec 3> "$CONF/d.yaml"
svc d1 4 >&3
sleep 1
expect_eq "a file still being written is not applied" "c" "$(names)"
echo "---" >&3
svc d2 5 >&3
exec 3>&-
wait_names "the file once closed" "c d1 d2"

# a Kubernetes ConfigMap volume: real files in a timestamped directory,
# "..data" a symlink to it, the entries symlinks through "..data"
rm -f "$CONF"/*.yaml
mkdir "$CONF/..2026_12_02_10_00_00.1"
svc cm1 6 > "$CONF/..2026_12_02_10_00_00.1/svc.yaml"
ln -s "..2026_12_02_10_00_00.1" "$CONF/..data"
ln -s "..data/svc.yaml" "$CONF/svc.yaml"
wait_names "ConfigMap layout" "cm1"
# the kubelet's update: new directory, ..data_tmp renamed over ..data
mkdir "$CONF/..2026_12_02_10_05_00.2"
svc cm2 7 > "$CONF/..2026_12_02_10_05_00.2/svc.yaml"
ln -s "..2026_12_02_10_05_00.2" "$CONF/..data_tmp"
mv -T "$CONF/..data_tmp" "$CONF/..data"
rm -rf "$CONF/..2026_12_02_10_00_00.1"
wait_names "ConfigMap ..data swap" "cm2"

# SIGHUP reloads (and does not end the agent)
before=$(reloads)
kill -HUP "$AGENT_PID"
for _ in $(seq 100); do [ "$(reloads)" -gt "$before" ] && break; sleep 0.05; done
expect_eq "SIGHUP reloaded" "$((before + 1))" "$(reloads)"
kill -0 "$AGENT_PID" 2>/dev/null && pass "agent alive after SIGHUP" || fail "SIGHUP ended the agent"
finish
