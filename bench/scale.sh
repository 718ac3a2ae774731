#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/scale.sh: how the agent copes with a big configuration.
#
# Generates BENCH_SCALE_SERVICES (1000) services x BENCH_SCALE_ENDPOINTS (100)
# endpoints (127.x addresses; nothing connects to them; the policies of
# BENCH_SCALE_POLICIES in turn, weights 1-3) and a small
# baseline of 10 x 10 with the same mix, then measures with an agent
# (--max-endpoints 131072) attached to an empty bench cgroup:
#   - validate: `bpfmesh validate` of the big set (parsing and checks only);
#   - cold apply of the small and of the big set (the agent's own figure, log
#     line "config applied: ... in X ms"), and start-to-ready wall time;
#   - re-apply after one endpoint's weight changed, and after a no-op touch;
#   - apply by a restarted agent that adopts the pinned, filled maps;
#   - GET /api/v1/services with every endpoint (size, time);
#   - the memory of the agent's maps (bpftool: bytes_memlock of each map
#     pinned under its bpffs directory) and the agent's RSS.
#
# Environment: BENCH_SCALE_SERVICES (1000), BENCH_SCALE_ENDPOINTS (100),
# BENCH_SCALE_MAX_ENDPOINTS (131072), BENCH_SCALE_POLICIES (the policies given
# to the services in turn, default "random roundRobin leastConnections maglev").
set -u -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICES=${BENCH_SCALE_SERVICES:-1000}
EPS=${BENCH_SCALE_ENDPOINTS:-100}
MAX_EPS=${BENCH_SCALE_MAX_ENDPOINTS:-131072}
POLICIES=${BENCH_SCALE_POLICIES:-random roundRobin leastConnections maglev}

bench_init scale
for v in SERVICES EPS MAX_EPS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
[ "$EPS" -le 256 ] || die "BENCH_SCALE_ENDPOINTS: at most 256 endpoints per service"
[ $((SERVICES * EPS)) -le "$MAX_EPS" ] || die "$SERVICES x $EPS endpoints exceed $MAX_EPS"
[ "$SERVICES" -le 16000 ] || die "BENCH_SCALE_SERVICES: at most 16000"
for p in $POLICIES; do
	[[ $p =~ ^(random|roundRobin|leastConnections|maglev)$ ]] ||
		die "BENCH_SCALE_POLICIES: unknown policy $p"
done
need bpftool:bpftool jq:jq curl:curl ss:iproute2

# The figure of the next "config applied" line after line $1 of the log.
wait_applied() {
	local after=$1 i line
	for ((i = 0; i < 1200; i++)); do
		line=$(tail -n +"$((after + 1))" "$AGENT_LOG" |
			grep -m1 -E 'config (applied|rejected|not applied)')
		if [ -n "$line" ]; then
			[[ $line == *"config applied"* ]] || die "the agent refused the config: $line"
			sed -E 's/.* in ([0-9.]+) ms.*/\1/' <<<"$line"
			return 0
		fi
		kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited"
		sleep 0.1
	done
	die "no 'config applied' in the agent log after 120 s"
}

log_lines() { wc -l <"$AGENT_LOG"; }

# -> TSV: name type max_entries prealloc bytes_memlock, for every pinned map,
# and one line for the inner maps of lb_maglev2 (a map-in-map whose values are
# map ids, dumped by bpftool as little-endian hex bytes).
maps_memory() {
	local f ids
	for f in "$PIN"/maps/*; do
		bpftool map show pinned "$f" --json | jq -r '[.name, .type, .max_entries,
			(if (.flags % 2) == 1 then "no" else "yes" end), (.bytes_memlock // 0)] | @tsv'
	done
	[ -e "$PIN/maps/lb_maglev2" ] || return 0
	ids=$(bpftool map dump pinned "$PIN/maps/lb_maglev2" --json 2>/dev/null | jq -r '
		def hex: ltrimstr("0x") | ascii_downcase | explode |
			reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end));
		.[].value | if type == "array" then (map(hex) | reverse |
			reduce .[] as $b (0; . * 256 + $b)) else . end')
	[ -n "$ids" ] || return 0
	for id in $ids; do
		bpftool map show id "$id" --json
	done | jq -rs '"lb_maglev2 inner x\(length)\t\(.[0].type)\t\(map(.max_entries) | add)\t" +
		(if (.[0].flags % 2) == 1 then "no" else "yes" end) + "\t\(map(.bytes_memlock // 0) | add)"'
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$AGENT_PID/status"; }

echo "scale: $SERVICES services x $EPS endpoints = $((SERVICES * EPS)) endpoints" \
	"(baseline 10 x 10), agent --max-endpoints $MAX_EPS; policies in turn: $POLICIES"
t0=$(now_ns)
gen_services "$TMP/big" svc "$SERVICES" "$EPS" 110 120 "$POLICIES"
gen_services "$TMP/small" small 10 10 112 130 "$POLICIES"
t1=$(now_ns)
printf '  generated %s of YAML in %d ms\n' "$(du -sh "$TMP/big" | cut -f1)" $(((t1 - t0) / 1000000))

t0=$(now_ns)
"$BPFMESH" validate "$TMP/big" >/dev/null || die "the generated config does not validate"
t1=$(now_ns)
validate_ms=$(((t1 - t0) / 1000000))

bench_cgroup
mkdir "$TMP/config"

# ---- baseline: the small set, cold ----
cp "$TMP"/small/*.yaml "$TMP/config/"
t0=$(now_ns)
agent_start "$TMP/config" --max-endpoints "$MAX_EPS"
ready_small_ms=$((($(now_ns) - t0) / 1000000))
apply_small=$(wait_applied 0)
rss_small=$(rss_kb)
agent_stop

# ---- the big set, cold ----
rm -f "$TMP"/config/*.yaml
cp "$TMP"/big/*.yaml "$TMP/config/"
: >"$AGENT_LOG"
t0=$(now_ns)
agent_start "$TMP/config" --max-endpoints "$MAX_EPS"
ready_big_ms=$((($(now_ns) - t0) / 1000000))
apply_big=$(wait_applied 0)
rss_big=$(rss_kb)
maps_memory >"$TMP/maps"

# ---- one endpoint's weight changes ----
f=$(find "$TMP/config" -name '*.yaml' | sort | head -n 1)
n=$(log_lines)
sed '0,/weight: 1}/s//weight: 7}/' "$f" >"$TMP/changed.yaml" && mv "$TMP/changed.yaml" "$f"
apply_one=$(wait_applied "$n")

# ---- nothing changes (a touch) ----
n=$(log_lines)
touch "$f"
apply_noop=$(wait_applied "$n")

# ---- the API with every endpoint ----
api=$(curl -sf -o /dev/null -w '%{size_download} %{time_total}' \
	"http://$AGENT_LISTEN/api/v1/services") || die "GET /api/v1/services failed"
read -r api_bytes api_s <<<"$api"

# ---- a restarted agent adopts the filled, pinned maps ----
stop_pid "$AGENT_PID" 10
n=$(log_lines)
t0=$(now_ns)
"$BPFMESH" agent --config "$TMP/config" --cgroup "$CG" --bpffs "$PIN" --listen "$AGENT_LISTEN" \
	--max-endpoints "$MAX_EPS" >>"$AGENT_LOG" 2>&1 &
AGENT_PID=$!
for ((i = 0; i < 1200; i++)); do
	curl -sf -o /dev/null "http://$AGENT_LISTEN/readyz" && break
	kill -0 "$AGENT_PID" 2>/dev/null || die "the restarted agent exited"
	sleep 0.1
done
ready_adopt_ms=$((($(now_ns) - t0) / 1000000))
apply_adopt=$(wait_applied "$n")

total_eps=$((SERVICES * EPS))
echo
echo "scale: apply times (the agent's own measure) and wall times"
{
	printf 'WHAT\tAPPLY\tWALL TO READY\tvs 10x10\tPER ENDPOINT\n'
	printf 'validate %dx%d (parse + checks, no maps)\t-\t%d ms\t-\t%s us\n' "$SERVICES" "$EPS" \
		"$validate_ms" "$(ratio "$((validate_ms * 1000))" "$total_eps" 2)"
	printf 'cold apply 10x10 (baseline)\t%s ms\t%d ms\t1.00\t-\n' "$apply_small" "$ready_small_ms"
	printf 'cold apply %dx%d\t%s ms\t%d ms\t%s\t%s us\n' "$SERVICES" "$EPS" "$apply_big" \
		"$ready_big_ms" "$(ratio "$apply_big" "$apply_small" 1)" \
		"$(ratio "$(awk -v a="$apply_big" 'BEGIN { print a * 1000 }')" "$total_eps" 2)"
	printf 're-apply, one weight changed\t%s ms\t-\t%s\t-\n' "$apply_one" \
		"$(ratio "$apply_one" "$apply_small" 1)"
	printf 're-apply, nothing changed\t%s ms\t-\t%s\t-\n' "$apply_noop" \
		"$(ratio "$apply_noop" "$apply_small" 1)"
	printf 'restarted agent adopts the pins\t%s ms\t%d ms\t%s\t-\n' "$apply_adopt" \
		"$ready_adopt_ms" "$(ratio "$apply_adopt" "$apply_small" 1)"
} | table
printf '  GET /api/v1/services: %s bytes in %.0f ms\n' "$api_bytes" \
	"$(awk -v s="$api_s" 'BEGIN { print s * 1000 }')"

echo
echo "scale: memory of the agent's maps with $SERVICES x $EPS (bpftool bytes_memlock; a" \
	"preallocated map costs its full size, the others what they hold)"
{
	printf 'MAP\tTYPE\tMAX ENTRIES\tPREALLOC\tMEMLOCK\n'
	sort -t$'\t' -k5,5nr "$TMP/maps" |
		awk -F'\t' '{ printf "%s\t%s\t%s\t%s\t%.1f MiB\n", $1, $2, $3, $4, $5 / 1048576 }'
	awk -F'\t' '{ s += $5 } END { printf "total\t\t\t\t%.1f MiB\n", s / 1048576 }' "$TMP/maps"
} | table
printf '  agent RSS: %.1f MiB with 10x10, %.1f MiB with %dx%d (x%s)\n' \
	"$(awk -v k="$rss_small" 'BEGIN { print k / 1024 }')" \
	"$(awk -v k="$rss_big" 'BEGIN { print k / 1024 }')" "$SERVICES" "$EPS" \
	"$(ratio "$rss_big" "$rss_small" 1)"
