#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/kube_converge.sh: how fast a change in the Kubernetes API reaches the
# kernel's load-balancing maps, at BENCH_KUBE_SERVICES (1000) Services x
# BENCH_KUBE_ENDPOINTS (100) endpoints, against a 10 x 10 baseline measured
# in the same run; the agent's memory with that cluster; the cost of a
# full relist (a watch answered 410 Gone).
#
# Per cluster size, a fresh tests/e2e/fake_kube.py (preloaded: one Service
# per ClusterIP 127.104.x.y:80, one EndpointSlice of ready endpoints on
# 127.105-106.x.y each; nothing listens) and a fresh agent (--kubeconfig, an
# empty --config, attached to the empty bench cgroup, private pins):
#   - initial sync: from the agent's "Kubernetes: API server" log line (the
#     programs are loaded by then) to its first "config applied" line, the
#     apply's own figure, and agent start to /readyz; VmRSS and VmHWM after;
#   - BENCH_KUBE_EVENTS (50) single changes, one at a time, each an
#     EndpointSlice MODIFIED on another Service: an endpoint turned
#     not-ready, or an endpoint's address replaced, in turn.
#     bench/kube_converge_probe (built here) starts its clock right before
#     it posts the change to fake_kube's control port and reads the pinned
#     maps every millisecond until the service's endpoint list (what the
#     next connect() reads) shows it. Median, p99 and max, and the agent's
#     own "config applied ... in X ms" of each;
#   - a relist: the history is compacted past every watch's resourceVersion
#     and the watches are cut (fake_kube /compact, /drop), so each comes
#     back, is answered 410 and lists again; the time until every watched
#     resource was listed again (/api/v1/status kubernetes.resources[].lists),
#     the agent's CPU (utime+stime) over it, whether it applied again and
#     how long that took; then BENCH_KUBE_RELISTS (3) changes made right
#     after the cut, timed to the maps as above. A cut stream is retried
#     after the agent's first backoff step (250-500 ms): that wait is in
#     both sizes' figures, the relist's own work is the difference.
#
# Environment: BENCH_KUBE_SERVICES (1000), BENCH_KUBE_ENDPOINTS (100),
# BENCH_KUBE_EVENTS (50), BENCH_KUBE_RELISTS (3), BENCH_KUBE_MAX_ENDPOINTS
# (131072), BENCH_KUBE_READY_TIMEOUT (300 s), BENCH_KUBE_LOGS (a directory:
# each agent's log is copied there).
set -u -o pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICES=${BENCH_KUBE_SERVICES:-1000}
EPS=${BENCH_KUBE_ENDPOINTS:-100}
EVENTS=${BENCH_KUBE_EVENTS:-50}
RELISTS=${BENCH_KUBE_RELISTS:-3}
MAX_EPS=${BENCH_KUBE_MAX_ENDPOINTS:-131072}
READY_TIMEOUT=${BENCH_KUBE_READY_TIMEOUT:-300}
SMALL_SERVICES=10 SMALL_EPS=10
FAKE=$BENCH_ROOT/bench/kube_converge_fake.py

bench_init kube_converge
for v in SERVICES EPS EVENTS RELISTS MAX_EPS READY_TIMEOUT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive number"
done
[ "$EPS" -le 250 ] || die "BENCH_KUBE_ENDPOINTS: at most 250 (one slice per service)"
[ "$SERVICES" -le 62500 ] || die "BENCH_KUBE_SERVICES: at most 62500"
[ $((SERVICES * EPS + EVENTS)) -le "$MAX_EPS" ] || die "the cluster exceeds $MAX_EPS endpoints"
# each event changes an endpoint not changed before
[ $(((EVENTS + RELISTS) / SMALL_SERVICES)) -lt "$SMALL_EPS" ] ||
	die "too many events for the 10 x 10 baseline"
need python3:python3 jq:jq curl:curl ss:iproute2 gcc:gcc
[ -f /usr/include/bpf/bpf.h ] || die "needs libbpf-dev (make deps)"

gcc -O2 -Wall -Wextra -std=gnu11 -I"$BENCH_ROOT" -o "$TMP/probe" \
	"$BENCH_ROOT/bench/kube_converge_probe.c" -lbpf 2>"$TMP/gcc.log" ||
	die "building bench/kube_converge_probe.c failed: $(head -n 3 "$TMP/gcc.log")"

vip() { echo "127.104.$(($1 / 250)).$(($1 % 250 + 1))"; }
ep_addr() {
	local i=$(($1 * $2 + $3))
	echo "127.$((105 + i / 65536)).$((i / 256 % 256)).$((i % 256))"
}

# gen_cluster SERVICES EPS: a List of the Namespace, the Services and their
# EndpointSlices, as JSON for fake_kube's /apply.
gen_cluster() {
	awk -v nsvc="$1" -v neps="$2" 'BEGIN {
		printf "{\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
		printf "\"metadata\":{\"name\":\"bench\"}}"
		for (s = 0; s < nsvc; s++) {
			vip = sprintf("127.104.%d.%d", int(s / 250), s % 250 + 1)
			printf ",{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":"
			printf "\"svc-%05d\",\"namespace\":\"bench\"},\"spec\":{\"type\":\"ClusterIP\",", s
			printf "\"clusterIP\":\"%s\",\"clusterIPs\":[\"%s\"],\"ports\":[{\"name\":", vip, vip
			printf "\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080}]}}"
		}
		for (s = 0; s < nsvc; s++) {
			printf ",{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
			printf "\"metadata\":{\"name\":\"svc-%05d-a\",\"namespace\":\"bench\",", s
			printf "\"labels\":{\"kubernetes.io/service-name\":\"svc-%05d\"}},", s
			printf "\"addressType\":\"IPv4\",\"endpoints\":["
			for (e = 0; e < neps; e++) {
				i = s * neps + e
				printf "%s{\"addresses\":[\"127.%d.%d.%d\"],\"conditions\":{\"ready\":true,",
					e ? "," : "", 105 + int(i / 65536), int(i / 256) % 256, i % 256
				printf "\"serving\":true,\"terminating\":false}}"
			}
			printf "],\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080}]}"
		}
		print "]}"
	}'
}

# slice_json S EPS MODS: service S's slice with the changes of MODS applied
# ("E:n" endpoint E not ready, "E:r:ADDR" endpoint E's address is ADDR).
slice_json() {
	awk -v s="$1" -v neps="$2" -v mods="$3" 'BEGIN {
		n = split(mods, m, " ")
		for (k = 1; k <= n; k++) {
			split(m[k], f, ":")
			if (f[2] == "n") notready[f[1]] = 1
			else addr[f[1]] = f[3]
		}
		printf "{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\","
		printf "\"metadata\":{\"name\":\"svc-%05d-a\",\"namespace\":\"bench\",", s
		printf "\"labels\":{\"kubernetes.io/service-name\":\"svc-%05d\"}},", s
		printf "\"addressType\":\"IPv4\",\"endpoints\":["
		for (e = 0; e < neps; e++) {
			i = s * neps + e
			a = (e in addr) ? addr[e] : sprintf("127.%d.%d.%d", 105 + int(i / 65536),
				int(i / 256) % 256, i % 256)
			printf "%s{\"addresses\":[\"%s\"],\"conditions\":{\"ready\":%s,", e ? "," : "", a,
				(e in notready) ? "false" : "true"
			printf "\"serving\":true,\"terminating\":false}}"
		}
		print "],\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080}]}"
	}'
}

FAKE_PID='' KAPI_PORT='' CTL_PORT=''
fake_start() {
	rm -f "$TMP/fake.ready"
	python3 "$FAKE" --ready-file "$TMP/fake.ready" --history 10000 >>"$TMP/fake.log" 2>&1 &
	FAKE_PID=$!
	bg "$FAKE_PID"
	for ((i = 0; i < 200; i++)); do
		[ -s "$TMP/fake.ready" ] && break
		kill -0 "$FAKE_PID" 2>/dev/null || die "fake_kube exited: $(tail -n 3 "$TMP/fake.log")"
		sleep 0.05
	done
	read -r KAPI_PORT CTL_PORT <"$TMP/fake.ready" || die "fake_kube did not start"
	cat >"$TMP/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: bench
contexts:
- name: bench
  context: {cluster: fake, user: agent}
clusters:
- name: fake
  cluster: {server: "http://127.0.0.1:$KAPI_PORT"}
users:
- name: agent
  user: {token: bench-token}
EOF
}
fake_stop() {
	[ -n "$FAKE_PID" ] && stop_pid "$FAKE_PID" 3
	FAKE_PID=''
}
ctl() { curl -sf -X POST "http://127.0.0.1:$CTL_PORT/$1" -d "${2:-{\}}" -o /dev/null; }

# Every watch answered 410 at its next start, and every watch cut: a change
# nobody watches (a Node) moves the resourceVersion past every watched
# resource's, the history is compacted there, the watches are cut. (/gone
# would hand its count of 410s to whichever watch comes back first, over
# and over.)
echo '{"apiVersion":"v1","kind":"Node","metadata":{"name":"bench-bump"}}' >"$TMP/bump.json"
expire_watches() {
	curl -sf -X POST "http://127.0.0.1:$CTL_PORT/apply" --data-binary @"$TMP/bump.json" \
		-o /dev/null && ctl compact && ctl drop || die "fake_kube: apply, compact or drop failed"
}

# Like lib.sh's agent_start, with --kubeconfig and a longer wait: loading
# the programs alone takes 10-20 s on a busy machine.
kagent_start() {
	local i
	PIN=/sys/fs/bpf/bpfmesh-bench-$BENCH_NAME-$$
	AGENT_LISTEN=127.0.0.1:$(free_port 19440 19499)
	AGENT_LOG=$TMP/agent.log
	: >"$AGENT_LOG"
	mkdir -p "$TMP/config"
	"$BPFMESH" agent --config "$TMP/config" --cgroup "$CG" --bpffs "$PIN" \
		--listen "$AGENT_LISTEN" --kubeconfig "$TMP/kubeconfig" --node-name bench-node \
		--max-endpoints "$MAX_EPS" >>"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
		curl -sf -o /dev/null "http://$AGENT_LISTEN/readyz" && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited"
		sleep 0.1
	done
	die "the agent is not ready after $READY_TIMEOUT s"
}

# ms since the epoch of a log line's timestamp
log_ms() { date -d "$(cut -d' ' -f1 <<<"$1")" +%s%3N; }
applied_count() { grep -c 'config applied' "$AGENT_LOG"; }
# the "in X ms" of the Nth "config applied" line, once there is one (30 s)
applied_ms() {
	local i line
	for ((i = 0; i < 300; i++)); do
		line=$(grep 'config applied' "$AGENT_LOG" | sed -n "${1}p")
		[ -n "$line" ] && {
			sed -E 's/.* in ([0-9.]+) ms.*/\1/' <<<"$line"
			return 0
		}
		sleep 0.1
	done
	echo "-"
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$AGENT_PID/stat"; }
proc_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$AGENT_PID/status"; }
status_json() { curl -sf "http://$AGENT_LISTEN/api/v1/status"; }
# p-th percentile (nearest rank) of the numbers on stdin
pct() { sort -g | awk -v p="$1" '{ v[NR] = $1 } END {
	if (!NR) { print "-"; exit }
	r = int(NR * p / 100 + 0.999999); if (r < 1) r = 1; print v[r] }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

HZ=$(getconf CLK_TCK)
declare -A R

# measure TAG SERVICES EPS: one cluster, one fake_kube, one agent; results
# in R[TAG.*]
measure() {
	local tag=$1 nsvc=$2 neps=$3 i k s e t0 t1 out line a b n kind addr cond
	local -A MODS=() COUNT=()

	echo "kube_converge: $tag: $nsvc services x $neps endpoints"
	fake_start
	gen_cluster "$nsvc" "$neps" >"$TMP/cluster.json"
	t0=$(now_ns)
	curl -sf -X POST "http://127.0.0.1:$CTL_PORT/apply" --data-binary @"$TMP/cluster.json" \
		-o /dev/null || die "fake_kube refused the cluster"
	R[$tag.preload_ms]=$((($(now_ns) - t0) / 1000000))
	# what the API server side costs: one LIST of every EndpointSlice
	out=$(curl -sf -o /dev/null -w '%{size_download} %{time_total}' \
		"http://127.0.0.1:$KAPI_PORT/apis/discovery.k8s.io/v1/endpointslices") ||
		die "fake_kube: LIST endpointslices failed"
	read -r a b <<<"$out"
	R[$tag.list_bytes]=$a
	R[$tag.list_ms]=$(awk -v s="$b" 'BEGIN { printf "%.0f", s * 1000 }')

	t0=$(now_ns)
	kagent_start
	t1=$(now_ns)
	R[$tag.ready_ms]=$(((t1 - t0) / 1000000))
	line=$(grep -m1 'Kubernetes: API server' "$AGENT_LOG")
	a=$(log_ms "$line")
	line=$(grep -m1 'config applied' "$AGENT_LOG") || die "$tag: no 'config applied' at ready"
	b=$(log_ms "$line")
	R[$tag.sync_ms]=$((b - a))
	R[$tag.sync_apply_ms]=$(sed -E 's/.* in ([0-9.]+) ms.*/\1/' <<<"$line")
	R[$tag.objects]=$(sed -E 's/.* and ([0-9]+) Kubernetes objects.*/\1/' <<<"$line")
	sleep 1
	R[$tag.rss]=$(proc_kb VmRSS)
	R[$tag.hwm]=$(proc_kb VmHWM)
	"$TMP/probe" --pin "$PIN" --vip "$(vip 0)" --port 80 >"$TMP/svc0" ||
		die "$tag: the probe cannot read service 0 from the maps"
	n=$(awk '$1 == "svc_id" { print $6 }' "$TMP/svc0")
	[ "$n" = "$neps" ] || die "$tag: service 0 has $n endpoints in the maps, not $neps"

	# ---- single events ----
	: >"$TMP/$tag.events"
	for ((i = 0; i < EVENTS; i++)); do
		s=$(((i * 37 + 11) % nsvc))
		e=${COUNT[$s]:-0}
		COUNT[$s]=$((e + 1))
		if ((i % 2 == 0)); then
			kind=notready addr=$(ep_addr "$s" "$neps" "$e")
			MODS[$s]="${MODS[$s]:-} $e:n"
			cond=absent
		else
			kind=replaced addr="127.107.$(((i + 1) / 256)).$(((i + 1) % 256))"
			MODS[$s]="${MODS[$s]:-} $e:r:$addr"
			cond=present
		fi
		slice_json "$s" "$neps" "${MODS[$s]}" >"$TMP/slice.json"
		n=$(applied_count)
		out=$("$TMP/probe" --pin "$PIN" --vip "$(vip "$s")" --port 80 --until "$cond" \
			--addr "$addr" --ctl "127.0.0.1:$CTL_PORT" --post "/apply=$TMP/slice.json" \
			--timeout-ms 60000) || die "$tag: event $i ($kind on service $s) did not converge"
		a=$(applied_ms $((n + 1)))
		printf '%s\t%s\t%s\t%s\n' "$kind" "$(awk '{ print $2 }' <<<"$out")" "$a" \
			"$(awk '{ print $4 }' <<<"$out")" >>"$TMP/$tag.events"
		sleep 0.2
	done
	R[$tag.ev_med]=$(cut -f2 "$TMP/$tag.events" | median)
	R[$tag.ev_p99]=$(cut -f2 "$TMP/$tag.events" | pct 99)
	R[$tag.ev_max]=$(cut -f2 "$TMP/$tag.events" | sort -g | tail -n 1)
	R[$tag.ev_min]=$(cut -f2 "$TMP/$tag.events" | sort -g | head -n 1)
	R[$tag.apply_med]=$(cut -f3 "$TMP/$tag.events" | grep -v '^-$' | median)
	R[$tag.apply_max]=$(cut -f3 "$TMP/$tag.events" | grep -v '^-$' | sort -g | tail -n 1)
	R[$tag.nr_med]=$(awk -F'\t' '$1 == "notready" { print $2 }' "$TMP/$tag.events" | median)
	R[$tag.rp_med]=$(awk -F'\t' '$1 == "replaced" { print $2 }' "$TMP/$tag.events" | median)
	R[$tag.hwm_events]=$(proc_kb VmHWM)

	# ---- a relist: every open watch answered 410 ----
	local watching lists_before c0 c1 t_done n_applied
	status_json >"$TMP/st.json" || die "$tag: GET /api/v1/status failed"
	watching=$(jq -r '[.kubernetes.resources | to_entries[] | select(.value.watching) | .key]
		| join(" ")' "$TMP/st.json")
	lists_before=$(jq -c '.kubernetes.resources | map_values(.lists)' "$TMP/st.json")
	n=$(wc -w <<<"$watching")
	[ "$n" -gt 0 ] || die "$tag: no resource is being watched"
	n_applied=$(applied_count)
	c0=$(cpu_ticks)
	t0=$(now_ns)
	expire_watches
	t_done=''
	for ((i = 0; i < 1200; i++)); do
		status_json >"$TMP/st.json" || continue
		# every resource that was watched: listed again, synced, watching
		if jq -e --argjson before "$lists_before" --arg w "$watching" '
			.kubernetes.resources as $r | ($w | split(" ")) |
			all(. as $k | $r[$k].lists > $before[$k] and $r[$k].synced and $r[$k].watching)' \
			"$TMP/st.json" >/dev/null; then
			t_done=$(now_ns)
			break
		fi
		sleep 0.05
	done
	[ -n "$t_done" ] || die "$tag: the agent did not relist within 60 s (before: $lists_before;" \
		"now: $(jq -c '.kubernetes.resources' "$TMP/st.json"))"
	c1=$(cpu_ticks)
	R[$tag.relist_ms]=$(((t_done - t0) / 1000000))
	R[$tag.relist_res]=$n
	R[$tag.relist_cpu]=$(awk -v d=$((c1 - c0)) -v hz="$HZ" 'BEGIN { printf "%.0f", d * 1000 / hz }')
	# does the relist make the agent apply again? (nothing changed)
	sleep 2
	R[$tag.relist_cpu2]=$(awk -v d=$(($(cpu_ticks) - c0)) -v hz="$HZ" \
		'BEGIN { printf "%.0f", d * 1000 / hz }')
	if [ "$(applied_count)" -gt "$n_applied" ]; then
		line=$(grep 'config applied' "$AGENT_LOG" | sed -n "$((n_applied + 1))p")
		R[$tag.relist_apply]="$(sed -E 's/.* in ([0-9.]+) ms.*/\1/' <<<"$line") ms, ended $(($(log_ms "$line") - t0 / 1000000)) ms after the 410"
	else
		R[$tag.relist_apply]="none (nothing changed)"
	fi
	R[$tag.hwm_relist]=$(proc_kb VmHWM)

	# ---- a change made while the watches are cut and answered 410 ----
	: >"$TMP/$tag.relists"
	for ((k = 0; k < RELISTS; k++)); do
		# a watch that lived 10 s resets the agent's reconnect backoff
		# (agent/kube/client.c STABLE_WATCH_NS): every trial starts from
		# the first step, 250-500 ms
		sleep 11
		i=$((EVENTS + k))
		s=$(((i * 37 + 11) % nsvc))
		e=${COUNT[$s]:-0}
		COUNT[$s]=$((e + 1))
		addr=$(ep_addr "$s" "$neps" "$e")
		MODS[$s]="${MODS[$s]:-} $e:n"
		slice_json "$s" "$neps" "${MODS[$s]}" >"$TMP/slice.json"
		out=$("$TMP/probe" --pin "$PIN" --vip "$(vip "$s")" --port 80 --until absent \
			--addr "$addr" --ctl "127.0.0.1:$CTL_PORT" --post "/apply=$TMP/bump.json" \
			--post /compact --post /drop --post "/apply=$TMP/slice.json" \
			--timeout-ms 60000) ||
			die "$tag: the change behind a 410 did not converge"
		awk '{ print $2 }' <<<"$out" >>"$TMP/$tag.relists"
	done
	R[$tag.rl_med]=$(median <"$TMP/$tag.relists")
	R[$tag.rl_max]=$(sort -g "$TMP/$tag.relists" | tail -n 1)

	[ -n "${BENCH_KUBE_LOGS:-}" ] && cp "$AGENT_LOG" "$BENCH_KUBE_LOGS/$tag-agent.log"
	agent_stop
	fake_stop
}

bench_cgroup
measure small "$SMALL_SERVICES" "$SMALL_EPS"
measure big "$SERVICES" "$EPS"
BIG="${SERVICES}x$EPS"

echo
echo "kube_converge: a watch event to the kernel maps, $EVENTS single changes each (ms;" \
	"probe polls every 1 ms; the agent applies 100 ms after the last change)"
{
	printf 'WHAT\t10x10\t%s\t%s / 10x10\n' "$BIG" "$BIG"
	for k in ev_med:"event -> maps, median" ev_p99:"event -> maps, p99" \
		ev_max:"event -> maps, max" ev_min:"event -> maps, min" \
		nr_med:"  endpoint not ready, median" rp_med:"  address replaced, median" \
		apply_med:"agent's apply (its log), median" apply_max:"agent's apply, max" \
		rl_med:"change behind a 410 -> maps, median" rl_max:"change behind a 410, max"; do
		printf '%s\t%s\t%s\t%s\n' "${k#*:}" "${R[small.${k%%:*}]}" "${R[big.${k%%:*}]}" \
			"$(ratio "${R[big.${k%%:*}]}" "${R[small.${k%%:*}]}" 1)"
	done
} | table

echo
echo "kube_converge: initial sync, memory, relist (relist figures include the agent's" \
	"250-500 ms reconnect backoff after a cut stream)"
{
	printf 'WHAT\t10x10\t%s\t%s / 10x10\n' "$BIG" "$BIG"
	printf 'Kubernetes objects applied\t%s\t%s\t-\n' "${R[small.objects]}" "${R[big.objects]}"
	printf 'fake_kube: preload (POST /apply)\t%s ms\t%s ms\t-\n' "${R[small.preload_ms]}" \
		"${R[big.preload_ms]}"
	printf 'fake_kube: LIST endpointslices\t%s ms, %s B\t%s ms, %s B\t%s\n' \
		"${R[small.list_ms]}" "${R[small.list_bytes]}" "${R[big.list_ms]}" \
		"${R[big.list_bytes]}" "$(ratio "${R[big.list_ms]}" "${R[small.list_ms]}" 1)"
	printf 'agent start -> /readyz (program load included)\t%s ms\t%s ms\t%s\n' \
		"${R[small.ready_ms]}" "${R[big.ready_ms]}" \
		"$(ratio "${R[big.ready_ms]}" "${R[small.ready_ms]}" 1)"
	printf 'initial sync: API client start -> applied\t%s ms\t%s ms\t%s\n' \
		"${R[small.sync_ms]}" "${R[big.sync_ms]}" \
		"$(ratio "${R[big.sync_ms]}" "${R[small.sync_ms]}" 1)"
	printf '  of which the first apply (its log)\t%s ms\t%s ms\t%s\n' \
		"${R[small.sync_apply_ms]}" "${R[big.sync_apply_ms]}" \
		"$(ratio "${R[big.sync_apply_ms]}" "${R[small.sync_apply_ms]}" 1)"
	printf 'VmRSS after sync\t%s MiB\t%s MiB\t%s\n' "$(mib "${R[small.rss]}")" \
		"$(mib "${R[big.rss]}")" "$(ratio "${R[big.rss]}" "${R[small.rss]}" 2)"
	printf 'VmHWM after sync\t%s MiB\t%s MiB\t%s\n' "$(mib "${R[small.hwm]}")" \
		"$(mib "${R[big.hwm]}")" "$(ratio "${R[big.hwm]}" "${R[small.hwm]}" 2)"
	printf 'VmHWM after the events / the relist\t%s / %s MiB\t%s / %s MiB\t-\n' \
		"$(mib "${R[small.hwm_events]}")" "$(mib "${R[small.hwm_relist]}")" \
		"$(mib "${R[big.hwm_events]}")" "$(mib "${R[big.hwm_relist]}")"
	printf 'relist after 410 (%s watches): 410 -> all listed again\t%s ms\t%s ms\t%s\n' \
		"${R[big.relist_res]}" "${R[small.relist_ms]}" "${R[big.relist_ms]}" \
		"$(ratio "${R[big.relist_ms]}" "${R[small.relist_ms]}" 1)"
	printf '  agent CPU until then / within 2 s more\t%s / %s ms\t%s / %s ms\t%s\n' \
		"${R[small.relist_cpu]}" "${R[small.relist_cpu2]}" "${R[big.relist_cpu]}" \
		"${R[big.relist_cpu2]}" "$(ratio "${R[big.relist_cpu2]}" "${R[small.relist_cpu2]}" 1)"
	printf '  apply after the relist\t%s\t%s\t-\n' "${R[small.relist_apply]}" \
		"${R[big.relist_apply]}"
} | table
