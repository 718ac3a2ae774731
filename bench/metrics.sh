#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/metrics.sh: what GET /metrics and the request-metrics registry cost.
#
#  1a. In process (bench/metrics_cost.c, linked with the agent's objects):
#      the whole exposition (writer, histograms from the registry, bpfmesh_*
#      families, finish) for about 1,000 series of histograms, of bpfmesh_*,
#      of both, and for 1,000 histogram label sets (17,000 series); against
#      the same lines written by one snprintf each (no sort, no escaping).
#  1b. A real agent with BENCH_METRICS_SERVICES x BENCH_METRICS_ENDPOINTS
#      (20 x 4) services, whose bpfmesh_* families make about 1,000 series,
#      scraped with curl (keep-alive, BENCH_METRICS_SCRAPES per batch,
#      BENCH_ROUNDS batches of /metrics and /healthz alternated): median ms
#      per scrape and the agent's CPU per scrape, /healthz as the baseline.
#  2.  The registry fed with synthetic spans for 100 services x 20 routes x 10
#      endpoints, GET and POST, 200 and 503, SERVER and CLIENT, over
#      BENCH_METRICS_MINUTES (16) simulated minutes: VmRSS, VmHWM, heap and the
#      registry's own count; one scrape of all of it. Then the real agent's
#      RSS with an empty config and with 100 services x 10 endpoints, and
#      the sum against the 64 MiB target.
#
# A "series" is a time series as Prometheus stores it: one sample line of
# the exposition. A histogram label set is 17 of them (15 _bucket, _sum,
# _count).
#
# Environment: BUILD (build tree, default build; metrics_cost links its
# agent/, exporters/ and proto/ objects), BENCH_ROUNDS (5),
# BENCH_METRICS_SCRAPES (40), BENCH_METRICS_SERVICES (20),
# BENCH_METRICS_ENDPOINTS (4), BENCH_METRICS_MINUTES (16),
# BENCH_METRICS_RATE (part 2's spans per (service, route, endpoint) and side
# every 10 s, 1: 4,000 spans/s; the feed takes about 7 s per unit),
# BENCH_METRICS_SECONDS (seconds per in-process case, 1).
set -u -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# the build tree from $BUILD, as capture.sh does
BUILD_DIR=$BENCH_ROOT/${BUILD:-build}
# shellcheck disable=SC2034 # used by lib.sh
BPFMESH=$BUILD_DIR/bpfmesh

ROUNDS=${BENCH_ROUNDS:-5}
SCRAPES=${BENCH_METRICS_SCRAPES:-40}
SVCS=${BENCH_METRICS_SERVICES:-20}
EPS=${BENCH_METRICS_ENDPOINTS:-4}
MINUTES=${BENCH_METRICS_MINUTES:-16}
RATE=${BENCH_METRICS_RATE:-1}
SECONDS_PER_CASE=${BENCH_METRICS_SECONDS:-1}
PKGS="libbpf libelf zlib yaml-0.1 libmicrohttpd json-c libprotobuf-c libcurl"
TARGET_MIB=64

bench_init metrics
for v in ROUNDS SCRAPES SVCS EPS MINUTES RATE SECONDS_PER_CASE; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
if [ "$SVCS" -gt 250 ] || [ "$EPS" -gt 250 ]; then
	die "at most 250 services x 250 endpoints"
fi
need curl:curl ss:iproute2 gcc:gcc pkg-config:pkg-config
[ -e "$BUILD_DIR/agent/metrics/metrics.o" ] || die "build first: make BUILD=${BUILD:-build}"

# ---- metrics_cost, linked like the unit tests: every agent object but main.o ----
mapfile -t OBJS < <(find "$BUILD_DIR/agent" "$BUILD_DIR/exporters" "$BUILD_DIR/proto" \
	-name '*.o' ! -path "$BUILD_DIR/agent/main.o" | sort)
# shellcheck disable=SC2046,SC2086 # pkg-config prints several words
(cd "$BENCH_ROOT" && gcc -O2 -g -Wall -Wextra -std=gnu11 -D_GNU_SOURCE -I. -Iagent \
	-I"$BUILD_DIR" -I"$BUILD_DIR/proto" $(pkg-config --cflags $PKGS) bench/metrics_cost.c \
	"${OBJS[@]}" -o "$TMP/metrics_cost" $(pkg-config --libs $PKGS) -lm -lpthread) \
	2>"$TMP/gcc.log" || die "building bench/metrics_cost.c failed: $(head -n 3 "$TMP/gcc.log")"

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# CPU time of every thread of the agent, ns (the API runs in libmicrohttpd's
# polling thread, which lives as long as the agent)
agent_cpu_ns() { cat "/proc/$AGENT_PID"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

echo "metrics: $(nproc) CPUs; series = sample lines of the exposition (a histogram label set is 17)"

# ---- 1a ----
echo
echo "metrics 1a: one whole exposition in process (median of 5 batches; DIRECT: the same lines" \
	"by one snprintf each, unsorted, unescaped)"
"$TMP/metrics_cost" scrape "$SECONDS_PER_CASE" >"$TMP/scrape.tsv" || die "metrics_cost scrape failed"
table <"$TMP/scrape.tsv"

# ---- 2, in process (a fresh process: nothing else has touched its heap) ----
echo
echo "metrics 2: the registry fed 100 services x 20 routes x 10 endpoints x {GET,POST} x {200,503}," \
	"SERVER and CLIENT, $((RATE * 4000)) spans/s simulated for $MINUTES min (growth from 'before')"
"$TMP/metrics_cost" rss "$MINUTES" "$RATE" >"$TMP/rss.out" || die "metrics_cost rss failed"
grep -v '^@ ' "$TMP/rss.out" | table
declare -A R
read -ra kvs < <(sed -n 's/^@ //p' "$TMP/rss.out")
for kv in "${kvs[@]}"; do
	R[${kv%%=*}]=${kv#*=}
done
[ -n "${R[rss_after_kb]:-}" ] || die "metrics_cost rss printed no figures"
reg_delta_kb=$((R[rss_after_kb] - R[rss_before_kb]))
scrape_peak_kb=$((R[hwm_after_scrape_kb] - R[rss_after_kb]))
printf '  one scrape of it all: %s series (%s label sets), %.1f MiB of text, %s ms, peak +%s MiB' \
	"${R[scrape_series]}" "${R[histograms]}" "$(awk -v b="${R[scrape_bytes]}" 'BEGIN { print b / 1048576 }')" \
	"${R[scrape_ms]}" "$(mib "$scrape_peak_kb")"
printf ' (VmHWM %s -> %s MiB)\n' "$(mib "${R[rss_after_kb]}")" "$(mib "${R[hwm_after_scrape_kb]}")"

# ---- 1b and the agent's baseline RSS: a real agent ----
# gen FILE PREFIX SERVICES EPS VIP_OCTET EP_OCTET: one YAML file (as scale.sh)
gen() {
	awk -v file="$1" -v prefix="$2" -v nsvc="$3" -v neps="$4" -v vb="$5" -v eb="$6" 'BEGIN {
		for (s = 0; s < nsvc; s++) {
			printf "---\napiVersion: bpfmesh.io/v1alpha1\nkind: Service\n" > file
			printf "metadata: {name: %s-%05d}\nspec:\n", prefix, s > file
			printf "  addresses: [\"127.%d.%d.%d\"]\n", vb, int(s / 250) % 250, s % 250 + 1 > file
			printf "  ports: [{name: http, port: 80, targetPort: 8080}]\n  endpoints:\n" > file
			for (e = 0; e < neps; e++) {
				i = s * neps + e
				printf "  - {address: \"127.%d.%d.%d\"}\n", eb + int(i / 65536),
					int(i / 256) % 256, i % 256 > file
			}
		}
	}'
}

# wait_services AFTER N: the next "config applied: N services" after log line AFTER
wait_services() {
	local i
	for ((i = 0; i < 600; i++)); do
		tail -n +"$(($1 + 1))" "$AGENT_LOG" | grep -q "config applied: $2 services" && return 0
		tail -n +"$(($1 + 1))" "$AGENT_LOG" | grep -q "config rejected" &&
			die "the agent refused the config: $(grep -m1 'config rejected' "$AGENT_LOG")"
		kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited"
		sleep 0.1
	done
	die "no 'config applied: $2 services' after 60 s"
}

# batch PATH: SCRAPES GETs on one keep-alive connection; appends the times
# (ms) to $TMP/PATH.ms and the agent's CPU (ns, idle share taken out) to
# $TMP/PATH.cpu
batch() {
	local name=${1//\//} args=() i c0 c1 t0 t1
	for ((i = 0; i < SCRAPES; i++)); do
		args+=(-o /dev/null "http://$AGENT_LISTEN$1")
	done
	c0=$(agent_cpu_ns)
	t0=$(now_ns)
	curl -sf -w '%{time_total}\n' "${args[@]}" >"$TMP/curl.out" || die "GET $1 failed"
	t1=$(now_ns)
	c1=$(agent_cpu_ns)
	[[ $c0$c1 =~ ^[0-9]+$ ]] || die "cannot read the agent's CPU time"
	awk '{ print $1 * 1000 }' "$TMP/curl.out" >>"$TMP/$name.ms"
	awk -v c="$((c1 - c0))" -v w="$((t1 - t0))" -v idle="$IDLE_RATE" \
		'BEGIN { printf "%.0f\n", c - w * idle }' >>"$TMP/$name.cpu"
}

bench_cgroup
mkdir "$TMP/config"
agent_start "$TMP/config"
wait_services 0 0
sleep 1
rss_empty=$(status_kb "$AGENT_PID" VmRSS)
hwm_empty=$(status_kb "$AGENT_PID" VmHWM)
# the biggest mappings by Rss (smaps), to say what the baseline is made of
awk '/^[0-9a-f]+-[0-9a-f]+ / { name = NF >= 6 ? $6 : "[anon]"; for (i = 7; i <= NF; i++) name = name " " $i }
	$1 == "Rss:" { rss[name] += $2 }
	END { for (n in rss) printf "%d\t%s\n", rss[n], n }' "/proc/$AGENT_PID/smaps" |
	sort -rn | head -n 5 >"$TMP/maps.tsv"
rss_parts="anon $(mib "$(status_kb "$AGENT_PID" RssAnon)"), file $(mib "$(status_kb "$AGENT_PID" RssFile)"), shmem $(mib "$(status_kb "$AGENT_PID" RssShmem)")"

gen "$TMP/small.yaml" m "$SVCS" "$EPS" 113 131
n=$(wc -l <"$AGENT_LOG")
mv "$TMP/small.yaml" "$TMP/config/small.yaml"
wait_services "$n" "$SVCS"
curl -sf -o "$TMP/one.txt" "http://$AGENT_LISTEN/metrics" || die "GET /metrics failed"
series=$(grep -vc '^#' "$TMP/one.txt")
families=$(grep -c '^# TYPE' "$TMP/one.txt")
bytes=$(wc -c <"$TMP/one.txt")
bpfmesh_series=$(grep -c '^bpfmesh_' "$TMP/one.txt")

# the agent's CPU while nobody asks it anything, per ns of wall time
c0=$(agent_cpu_ns)
t0=$(now_ns)
sleep 2
IDLE_RATE=$(awk -v c="$(($(agent_cpu_ns) - c0))" -v w="$(($(now_ns) - t0))" 'BEGIN { print c / w }')

echo
echo "metrics 1b: a real agent with $SVCS services x $EPS endpoints: /metrics has $series series" \
	"($bpfmesh_series bpfmesh_*) in $families families, $bytes bytes; $ROUNDS x $SCRAPES" \
	"keep-alive GETs each, alternated"
for ((r = 0; r < ROUNDS; r++)); do
	batch /metrics
	batch /healthz
done
med_m=$(median <"$TMP/metrics.ms")
med_h=$(median <"$TMP/healthz.ms")
p90() { sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int(NR * 0.9 + 0.5)] : "nan" }'; }
cpu_m=$(awk -v n="$SCRAPES" '{ s += $1; k++ } END { printf "%.3f", s / (n * k) / 1e6 }' "$TMP/metrics.cpu")
cpu_h=$(awk -v n="$SCRAPES" '{ s += $1; k++ } END { printf "%.3f", s / (n * k) / 1e6 }' "$TMP/healthz.cpu")
{
	printf 'PATH\tMEDIAN MS\tP90 MS\tvs /healthz\tAGENT CPU MS/SCRAPE\tvs /healthz\n'
	printf '/healthz (baseline)\t%.3f\t%.3f\t1.00\t%s\t1.00\n' "$med_h" "$(p90 <"$TMP/healthz.ms")" "$cpu_h"
	printf '/metrics\t%.3f\t%.3f\t%s\t%s\t%s\n' "$med_m" "$(p90 <"$TMP/metrics.ms")" \
		"$(ratio "$med_m" "$med_h" 1)" "$cpu_m" "$(ratio "$cpu_m" "$cpu_h" 1)"
} | table
printf '  idle agent: %.3f ms CPU per s (taken out of the batches); /metrics net of /healthz:' \
	"$(awk -v r="$IDLE_RATE" 'BEGIN { print r * 1000 }')"
printf ' %.3f ms wall, %.3f ms CPU per scrape\n' "$(awk -v a="$med_m" -v b="$med_h" 'BEGIN { print a - b }')" \
	"$(awk -v a="$cpu_m" -v b="$cpu_h" 'BEGIN { print a - b }')"

# the agent holding the services of part 2 (100 x 10: what the histograms refer to)
gen "$TMP/big.yaml" r 100 10 114 132
n=$(wc -l <"$AGENT_LOG")
mv "$TMP/big.yaml" "$TMP/config/big.yaml"
rm -f "$TMP/config/small.yaml"
wait_services "$n" 100
sleep 1
rss_cfg=$(status_kb "$AGENT_PID" VmRSS)
t0=$(now_ns)
curl -sf -o "$TMP/big.txt" "http://$AGENT_LISTEN/metrics" || die "GET /metrics failed"
big_ms=$((($(now_ns) - t0) / 1000000))
hwm_cfg=$(status_kb "$AGENT_PID" VmHWM)
rss_cfg_after=$(status_kb "$AGENT_PID" VmRSS)

echo
echo "metrics 2: the whole agent against the ${TARGET_MIB} MiB target (RSS of a real agent, idle," \
	"plus what the registry added in process)"
sum() { awk -v a="$1" -v b="$2" -v c="${3:-0}" 'BEGIN { printf "%.1f", (a + b + c) / 1024 }'; }
{
	printf 'WHAT\tMiB\tvs TARGET\n'
	printf 'agent, empty config, after ready (VmRSS: %s; VmHWM %s)\t%s\t%s\n' "$rss_parts" "$(mib "$hwm_empty")" \
		"$(mib "$rss_empty")" "$(ratio "$rss_empty" $((TARGET_MIB * 1024)))"
	printf 'agent with 100 services x 10 endpoints (VmRSS)\t%s\t%s\n' "$(mib "$rss_cfg")" \
		"$(ratio "$rss_cfg" $((TARGET_MIB * 1024)))"
	printf 'registry, %s min of 100x20x10 at %s spans/s (VmRSS growth in process)\t%s\t%s\n' "$MINUTES" "$((RATE * 4000))" \
		"$(mib "$reg_delta_kb")" "$(ratio "$reg_delta_kb" $((TARGET_MIB * 1024)))"
	printf 'empty-config agent + registry\t%s\t%s\n' "$(sum "$rss_empty" "$reg_delta_kb")" \
		"$(ratio $((rss_empty + reg_delta_kb)) $((TARGET_MIB * 1024)))"
	printf 'agent with 100x10 + registry\t%s\t%s\n' "$(sum "$rss_cfg" "$reg_delta_kb")" \
		"$(ratio $((rss_cfg + reg_delta_kb)) $((TARGET_MIB * 1024)))"
	printf '... + the peak of one scrape of the registry\t%s\t%s\n' \
		"$(sum "$rss_cfg" "$reg_delta_kb" "$scrape_peak_kb")" \
		"$(ratio $((rss_cfg + reg_delta_kb + scrape_peak_kb)) $((TARGET_MIB * 1024)))"
} | table
printf '  the empty-config agent'"'"'s biggest mappings:'
while IFS=$'\t' read -r kb name; do
	printf ' %s %s MiB;' "$(basename "$name")" "$(mib "$kb")"
done <"$TMP/maps.tsv"
echo
printf '  agent with 100x10: GET /metrics (%s series, bpfmesh_* only) %s ms; VmHWM %s MiB, VmRSS %s MiB after it\n' \
	"$(grep -vc '^#' "$TMP/big.txt")" "$big_ms" "$(mib "$hwm_cfg")" "$(mib "$rss_cfg_after")"
