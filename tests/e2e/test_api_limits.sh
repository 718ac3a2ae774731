#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The API under a flood of half-open connections from an unprivileged user:
# 2,000 sockets that connect and never send must not take /healthz down for
# long (the liveness probe would restart the agent), must not flood the log,
# and must leave the agent serving; a burst of ordinary clients (Prometheus,
# probes, the CLI) stays under the limits. The agent runs in the test's
# namespace, the flood comes from there too.
AGENT_NETNS=1
. "$(dirname "$0")/lib.sh"
setup_base
service_yaml web 127.100.7.1 80 18700 - 127.0.0.1 > "$CONF/svc.yaml"
start_agent || finish

code() { api_curl -s -m "${2:-5}" -o /dev/null -w '%{http_code}' "http://$API$1"; }
expect_eq "/healthz before the flood" 200 "$(code /healthz)"

# ordinary clients at once: 24 requests, 12 in parallel, each its own
# connection, as probes, scrapes and CLI calls make them
urls=()
for i in $(seq 24); do urls+=("http://$API/healthz?i=$i"); done
out=$(api_curl -s -m 10 --parallel --parallel-max 12 -o /dev/null -w '%{http_code}\n' "${urls[@]}" 2>/dev/null)
expect_eq "24 requests, 12 in parallel: all 200" 24 "$(echo "$out" | grep -c '^200$')"

lines0=$(wc -l < "$TMP/agent.log")
( exec nsenter --net="/run/netns/$NS" setpriv --reuid 65534 --regid 65534 --clear-groups \
	"$E2E/halfopen" 127.0.0.1 "$API_PORT" 2000 40 > "$TMP/flood.out" 2>&1 ) &
FLOOD=$!
PIDS+=($FLOOD)
for _ in $(seq 150); do grep -q '^connected' "$TMP/flood.out" && break; sleep 0.1; done
log "flood: $(head -1 "$TMP/flood.out")"
c=$(awk '$1 == "connected" { print $2 }' "$TMP/flood.out")
expect_range "half-open connections the kernel accepted" 1000 2000 "${c:-0}"

# /healthz must come back while the flood's sockets are still open: a
# kubelet liveness probe (every 10 s, 3 failures) must not fire
t0=$(date +%s.%N)
ok=0
for _ in $(seq 60); do
	if [ "$(code /healthz 2)" = 200 ]; then ok=1; break; fi
	sleep 0.5
done
took=$(awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%d", e - s + 0.999 }')
expect_eq "/healthz answers during the flood" 1 "$ok"
expect_range "seconds until /healthz answered" 0 15 "$took"
kill -0 "$FLOOD" 2>/dev/null && pass "the flood still holds its sockets" || fail "the flood ended early: $(cat "$TMP/flood.out")"
expect_eq "/readyz during the flood" 200 "$(code /readyz)"
expect_eq "/api/v1/services during the flood" 200 "$(code /api/v1/services)"

stop_pid "$FLOOD"
log "flood: $(tail -1 "$TMP/flood.out")"
kill -0 "$AGENT_PID" 2>/dev/null && pass "agent alive after the flood" || fail "agent died"
expect_eq "/healthz after the flood" 200 "$(code /healthz)"

# the refusals are logged, rate-limited: a handful of lines, with the count
# of what was left out, never one per connection. The count is written once
# the log interval (10 s) since the first refusal has passed: wait for it
# (at most 15 s) rather than sleep the whole interval after the flood
for _ in $(seq 150); do
	grep -Eq 'API: [0-9]+ more .*suppressed' "$TMP/agent.log" && break
	sleep 0.1
done
lines1=$(wc -l < "$TMP/agent.log")
expect_range "log lines written during the flood" 0 20 "$((lines1 - lines0))"
grep -q 'API: .*connection limit' "$TMP/agent.log" && pass "the log names the connection limit" ||
	fail "no connection-limit line in the log"
grep -Eq 'API: [0-9]+ more .*suppressed' "$TMP/agent.log" && pass "the log counts what it left out" ||
	fail "no suppressed count in the log"
sed -n "$((lines0 + 1)),\$p" "$TMP/agent.log" | head -8 | sed 's/^/    log: /'
finish
