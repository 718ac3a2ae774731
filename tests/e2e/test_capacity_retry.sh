#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A configuration refused only because removed endpoints still hold their
# map slots through the two-second grace is applied once they are freed,
# without another edit; /readyz says meanwhile that the configuration in
# force is not the one on disk.
. "$(dirname "$0")/lib.sh"
setup_base
eps() { service_yaml web 127.100.0.10 80 18080 roundRobin "$@"; }
readyz() { api_curl -s "http://$API/readyz" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
n_endpoints() {
	api_curl -sf "http://$API/api/v1/services/web" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["endpoints"]))'
}
eps 127.0.1.1 127.0.1.2 127.0.1.3 > "$CONF/web.yaml"
start_agent --max-endpoints 4
eps 127.0.1.1 > "$CONF/web.yaml.tmp" && mv "$CONF/web.yaml.tmp" "$CONF/web.yaml"
wait_log "config applied" 2
# 1 kept + 2 in their grace + 3 new = 6 > 4: refused for now
eps 127.0.1.1 127.0.1.4 127.0.1.5 127.0.1.6 > "$CONF/web.yaml.tmp" && mv "$CONF/web.yaml.tmp" "$CONF/web.yaml"
wait_log "config not applied"
expect_eq "refused while the grace holds: /readyz configCurrent" False "$(readyz 'd["configCurrent"]')"
expect_eq "refused while the grace holds: /readyz still ready" True "$(readyz 'd["ready"]')"
readyz 'd.get("configError", "")' | grep -q "lb_backends is full" && pass "/readyz names the error" ||
	fail "/readyz configError: $(readyz 'd.get("configError")')"
# no further edit: the retry after the grace applies it
for _ in $(seq 100); do [ "$(n_endpoints)" = 4 ] && break; sleep 0.05; done
expect_eq "applied after the grace without an edit: endpoints" 4 "$(n_endpoints)"
expect_eq "/readyz configCurrent once applied" True "$(readyz 'd["configCurrent"]')"
grep -q "applying .* again" "$TMP/agent.log" && pass "the retry is logged" || fail "no retry in the log"
finish
