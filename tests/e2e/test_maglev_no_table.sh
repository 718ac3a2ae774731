#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A maglev service whose table is missing still balances: an agent that
# adopts an earlier agent's pins (whose tables sat in a map it retired)
# takes over the programs before its first apply writes the tables again.
# With the agent killed, the service's entry is deleted from lb_maglev2:
# connects must still reach the endpoints, and a restarted agent writes the
# table back.
. "$(dirname "$0")/lib.sh"
setup_base
service_yaml hash 127.100.0.12 80 18080 maglev 127.0.0.1 127.0.0.2 127.0.0.3 > "$CONF/svc.yaml"
for i in 1 2 3; do start_echo "ep$i" -t "127.0.0.$i:18080"; done
start_agent

tables() { bpftool -j map dump pinned "$PINS/maps/lb_maglev2" | python3 -c '
import json, sys
print(len(json.load(sys.stdin)))'; }
expect_eq "maglev tables written" 1 "$(tables)"
out=$(in_cg "$E2E/lbclient" -n 30 127.100.0.12 80)
expect_eq "with its table: connects served" 30 "$(served "$out")"

kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=""
key=$(bpftool -j map dump pinned "$PINS/maps/lb_maglev2" | python3 -c '
import json, sys
e = json.load(sys.stdin)[0]
print(" ".join(e["key"]) if isinstance(e["key"], list) else e["key"])')
# shellcheck disable=SC2086 # the key's bytes, one word each
bpftool map delete pinned "$PINS/maps/lb_maglev2" key $key || fail "deleting the table failed"
expect_eq "table deleted" 0 "$(tables)"
out=$(in_cg "$E2E/lbclient" -n 30 127.100.0.12 80)
expect_eq "without its table: connects served" 30 "$(served "$out")"

start_agent
wait_for "the restarted agent writes the table" 20 test "$(tables)" = 1
out=$(in_cg "$E2E/lbclient" -n 30 127.100.0.12 80)
expect_eq "after restart: connects served" 30 "$(served "$out")"
finish
