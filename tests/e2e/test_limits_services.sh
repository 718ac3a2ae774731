#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# --max-services sizes the service maps (README: "--max-endpoints and
# --max-services size the maps ...; a configuration that needs more is
# refused with a message that names the map, the limit and the flag"): with
# room for 2 service ports, a third service port, or more frontends than the
# map holds, is refused whole with that message, and the configuration in
# force keeps balancing.
. "$(dirname "$0")/lib.sh"
setup_base
svc() { # NAME ADDRESS [ADDRESS2]
	service_yaml "$1" "$2" 80 18080 - 127.0.0.1 | sed "s/addresses: \[\"$2\"\]/addresses: [\"$2\"${3:+, \"$3\"}]/"
}
{ svc a 127.100.0.1; echo ---; svc b 127.100.0.2; } > "$CONF/svc.yaml"
start_echo ep1 -t 127.0.0.1:18080
start_agent --max-services 2
max_entries() { bpftool -j map show pinned "$PINS/maps/$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])'; }
# one more than the flag: id 0 is never used
expect_eq "lb_services sized by --max-services 2" 3 "$(max_entries lb_services)"
expect_eq "lb_frontends sized by --max-services 2" 3 "$(max_entries lb_frontends)"
for v in 127.100.0.1 127.100.0.2; do
	out=$(in_cg "$E2E/lbclient" -n 5 $v 80)
	expect_eq "2 services in force: $v served" 5 "$(served "$out" ep1)"
done

# a third service port: refused whole
{ svc a 127.100.0.1; echo ---; svc b 127.100.0.2; echo ---; svc c 127.100.0.3; } > "$CONF/svc.yaml.tmp"
mv "$CONF/svc.yaml.tmp" "$CONF/svc.yaml"
wait_log "config not applied"
expect_eq "the message names the map, the limit and the flag" 1 \
	"$(grep -c "map lb_services is full: 3 service ports needed, the limit is 2; raise it with --max-services" "$TMP/agent.log")"
out=$(in_cg "$E2E/lbclient" -n 5 127.100.0.3 80)
expect_eq "refused: the third service's address is not translated (loopback refuses)" 5 "$(errcount "$out" ECONNREFUSED)"
out=$(in_cg "$E2E/lbclient" -n 5 127.100.0.1 80)
expect_eq "refused: the configuration in force still balances" 5 "$(served "$out" ep1)"
readyz_error() { api_curl -s "http://$API/readyz" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("configError", ""))'; }
readyz_error | grep -q "lb_services is full" && pass "/readyz names the error" || fail "/readyz configError: $(readyz_error)"

# the same 2 service ports, but each at 2 addresses: 4 frontends in a map of 3
{ svc a 127.100.0.1 127.100.0.4; echo ---; svc b 127.100.0.2 127.100.0.5; } > "$CONF/svc.yaml.tmp"
mv "$CONF/svc.yaml.tmp" "$CONF/svc.yaml"
wait_log "config not applied" 2
expect_eq "frontends: the message names the map, the limit and the flag" 1 \
	"$(grep -c "map lb_frontends is full: 4 service addresses x ports needed, the limit is 3; raise it with --max-services" "$TMP/agent.log")"
out=$(in_cg "$E2E/lbclient" -n 5 127.100.0.2 80)
expect_eq "refused again: service b, still in force, balances" 5 "$(served "$out" ep1)"
"$BIN" agent --help | grep -q -- "--max-services N .*(default 16383)" && pass "--help gives the default, 16383" ||
	fail "--help: $("$BIN" agent --help | grep -- --max-services)"
finish
