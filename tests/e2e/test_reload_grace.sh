#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Removed endpoints are deleted two seconds later (README: "the agent writes
# only what changed ... removed endpoints are deleted two seconds later"),
# read from the pinned maps with bpftool: right after the reload the
# removed endpoint is still in lb_backends (flagged removed) and lb_be_addr;
# it is gone from both no sooner than 2 s after the reload was applied, and
# not much later.
. "$(dirname "$0")/lib.sh"
setup_base
service_yaml web 127.100.0.10 80 18080 roundRobin 127.0.0.1 127.0.0.2 127.0.0.3 > "$CONF/web.yaml"
for i in 1 2 3; do start_echo "ep$i" -t "127.0.0.$i:18080"; done
# small maps, so that a dump of the lb_backends array is quick
start_agent --max-endpoints 8

# sampler [SECONDS]: lines "T_BEFORE T_AFTER ADDRS USED REMOVED": the wall
# clock (s) around two bpftool dumps; lb_be_addr entries, lb_backends slots
# in use and, of those, slots flagged removed (LB_BE_F_REMOVED). One line, or
# for SECONDS until fewer than 3 addresses are left.
cat > "$TMP/sampler.py" <<'PY'
import json, subprocess, sys, time
pins, secs = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0
def dump(m):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", f"{pins}/maps/{m}"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out) if out.strip() else []
end = time.time() + secs
while True:
    t0 = time.time()
    a, b = dump("lb_be_addr"), dump("lb_backends")
    t1 = time.time()
    used = [e["formatted"]["value"] for e in b if e["formatted"]["value"]["family"]]
    print(f"{t0:.6f} {t1:.6f} {len(a)} {len(used)} {sum(v['flags'] & 1 for v in used)}", flush=True)
    if t1 > end or len(a) < 3:
        break
    time.sleep(0.02)
PY
sample() { python3 "$TMP/sampler.py" "$PINS"; }
expect_eq "before: 3 addresses, 3 slots in use, none removed" "3 3 0" "$(sample | cut -d' ' -f3-)"
out=$(in_cg "$E2E/lbclient" -n 30 127.100.0.10 80)
expect_eq "before: ep3 serves" 10 "$(served "$out" ep3)"

# sample the maps from before the reload until the endpoint is gone (or 15 s)
python3 "$TMP/sampler.py" "$PINS" 15 > "$TMP/samples" &
SAMPLER=$!
service_yaml web 127.100.0.10 80 18080 roundRobin 127.0.0.1 127.0.0.2 > "$CONF/web.yaml.tmp"
mv "$CONF/web.yaml.tmp" "$CONF/web.yaml"
wait_log "config applied" 2
wait "$SAMPLER"
out=$(in_cg "$E2E/lbclient" -n 30 127.100.0.10 80)
expect_eq "after the reload: ep3 gets nothing" 0 "$(served "$out" ep3)"
expect_eq "after the reload: ep1 and ep2 serve" 30 "$(served "$out" ep1 ep2)"
# the reload's time from the agent's log line (the same wall clock), which
# follows the flagging of the removed endpoint
applied=$(grep "config applied" "$TMP/agent.log" | tail -1 | cut -d' ' -f1)
python3 - "$applied" "$TMP/samples" > "$TMP/grace" <<'PY'
import datetime, sys
t = datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ")
applied = t.replace(tzinfo=datetime.timezone.utc).timestamp()
rows = [list(map(float, l.split())) for l in open(sys.argv[2]) if len(l.split()) == 5]
# still there: a sample taken wholly after the reload that shows the
# removed endpoint flagged and in both maps
kept = [r for r in rows if r[0] > applied and r[2:] == [3, 3, 1]]
gone = [r for r in rows if r[2:] == [2, 2, 0]]
print("samples", len(rows))
print("kept_after_apply_ms", int((max(r[0] for r in kept) - applied) * 1000) if kept else -1)
# gone: the first sample that shows it had ended by then (its end bounds
# when the deletion happened); how long after the reload the sampling that
# first saw it gone began (its start bounds the deletion from above)
print("gone_seen_by_ms", int((gone[0][1] - applied) * 1000) if gone else -1)
print("gone_by_ms", int((gone[0][0] - applied) * 1000) if gone else -1)
PY
log "$(tr '\n' ' ' < "$TMP/grace")"
val() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/grace"; }
# the endpoint is only flagged at the reload: a sample begun after the
# reload's log line still shows it
expect_range "removed endpoint still in the maps, flagged, after the reload (ms after)" 0 60000 "$(val kept_after_apply_ms)"
# deleted no sooner than 2 s after the reload: whatever sample first saw it
# gone ended 2 s after it (less the moments between flagging the endpoint
# and logging the reload, and the log's millisecond clock)
expect_range "first sample that saw it gone ended (ms after the reload)" 1900 60000 "$(val gone_seen_by_ms)"
# and not much later (the agent looks every 50 ms; slack for a busy machine)
expect_range "it was gone when a sample began (ms after the reload)" 0 5000 "$(val gone_by_ms)"
expect_eq "after the grace: 2 addresses, 2 slots in use, none removed" "2 2 0" "$(sample | cut -d' ' -f3-)"
finish
