# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# bench/lib.sh: what the benchmarks share, sourced by each of them: root and
# tool checks, Debian packages, a bench cgroup with an agent attached to it
# alone, teardown on every exit path, and small statistics helpers.
#
# A benchmark calls bench_init NAME first; then bench_cgroup, agent_start,
# bg (background processes to stop) and on_exit (extra teardown) as needed.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BPFMESH=$BENCH_ROOT/${BUILD:-build}/bpfmesh
# shellcheck disable=SC2034 # used by the scripts that source this file
E2E_BIN=$BENCH_ROOT/build/tests/e2e

BENCH_NAME='' TMP='' CG='' PIN='' AGENT_PID='' AGENT_LISTEN='' AGENT_LOG=''
BG_PIDS=()
EXIT_HOOKS=()

die() {
	echo "${BENCH_NAME:-bench}: $*" >&2
	exit 1
}

# TERM, then KILL after $2 seconds; reaps the process.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < ${2:-3} * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

bench_cleanup() {
	local rc=$? pid dir i
	trap - EXIT INT TERM
	set +e
	for pid in "${BG_PIDS[@]}"; do
		stop_pid "$pid" 3
	done
	if [ -n "$CG" ] && [ -d "$CG" ] && [ -e "$CG/cgroup.kill" ]; then
		echo 1 >"$CG/cgroup.kill" 2>/dev/null
		sleep 0.1
	fi
	agent_stop
	for ((i = ${#EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${EXIT_HOOKS[i]}"
	done
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		# deepest first; a process that survived moves to the parent cgroup
		while read -r dir; do
			while read -r pid; do
				echo "$pid" >"$(dirname "$CG")/cgroup.procs" 2>/dev/null
			done <"$dir/cgroup.procs"
			rmdir "$dir" 2>/dev/null || echo "$BENCH_NAME: could not remove cgroup $dir" >&2
		done < <(find "$CG" -depth -type d)
	fi
	if [ "$rc" != 0 ] && [ -n "$AGENT_LOG" ] && [ -s "$AGENT_LOG" ]; then
		echo "$BENCH_NAME: agent log (last lines):" >&2
		tail -n 10 "$AGENT_LOG" >&2
	fi
	[ -n "$TMP" ] && rm -rf "$TMP"
	exit "$rc"
}

# Runs "$@" at exit, after the processes and the agent are stopped.
on_exit() { EXIT_HOOKS+=("$*"); }

# Registers a background process to stop at exit.
bg() { BG_PIDS+=("$1"); }

bench_init() {
	BENCH_NAME=$1
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	[ "$(id -u)" = 0 ] || die "needs root (cgroup attachment, bpffs pins, sysctl)"
	[ -x "$BPFMESH" ] || die "build first: make (missing $BPFMESH)"
	CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	[ -n "$CGROOT" ] || die "no cgroup v2 mount in /proc/mounts"
	# a fresh machine may have no bpffs: mount it as the agent itself does
	# (bpffs_mount_if_missing), and leave it mounted, as the agent does
	if ! grep -qs ' /sys/fs/bpf bpf ' /proc/mounts; then
		mount -t bpf -o mode=0700,nosuid,nodev,noexec bpf /sys/fs/bpf ||
			die "bpffs is not mounted at /sys/fs/bpf and mounting it failed"
		echo "$BENCH_NAME: mounted bpffs at /sys/fs/bpf (none was mounted)" >&2
	fi
	TMP=$(mktemp -d "/tmp/bpfmesh-bench-$BENCH_NAME.XXXXXX")
}

# need CMD:PACKAGE...: installs the Debian packages whose command is missing.
# Debian starts the nginx and haproxy services on install; a policy-rc.d (the
# container images' way) keeps them from starting while we install.
need() {
	local spec missing=() made=0 rc
	for spec in "$@"; do
		command -v "${spec%%:*}" >/dev/null || missing+=("${spec#*:}")
	done
	[ ${#missing[@]} = 0 ] && return 0
	echo "$BENCH_NAME: installing ${missing[*]}" >&2
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d &&
			made=1 && on_exit "rm -f /usr/sbin/policy-rc.d"
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends \
			"${missing[@]}" >/dev/null; }
	rc=$?
	[ "$made" = 1 ] && rm -f /usr/sbin/policy-rc.d
	[ "$rc" = 0 ] || die "apt-get install ${missing[*]} failed"
}

port_busy() { [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]; }

# A free TCP port on 127.0.0.1 in [$1, $2], not in the rest of the arguments.
free_port() {
	local p lo=$1 hi=$2 skip k
	shift 2
	# from a random place in the range: two benchmarks started together
	# would otherwise both take its first free port
	for ((k = 0; k <= hi - lo; k++)); do
		p=$((lo + (RANDOM + k) % (hi - lo + 1)))
		for skip in "$@"; do
			[ "$p" = "$skip" ] && continue 2
		done
		port_busy "$p" || {
			echo "$p"
			return 0
		}
	done
	die "no free port in $lo-$hi"
}

# The bench cgroup: a child of the cgroup v2 mount, never the root.
bench_cgroup() {
	CG=$CGROOT/bpfmesh-bench-$BENCH_NAME-$$
	mkdir "$CG" || die "cannot create cgroup $CG"
}

# Moves the calling (sub)shell into cgroup $1 and execs the rest: run it as
# `in_cgroup DIR cmd &` or `(in_cgroup DIR cmd)`, never bare.
in_cgroup() {
	echo "$BASHPID" >"$1/cgroup.procs" || exit 1
	shift
	exec "$@"
}

# nginx_start PORT TOKEN [CGROUP [NAME]]: our own nginx (one worker, nothing
# shared with a system nginx: config, pid and temp files under $TMP/NAME,
# default nginx) answering every GET with 200 and TOKEN, and files the caller
# puts under $TMP/NAME/w/ at /w/, gzipped per request when asked
# (Accept-Encoding: gzip); in CGROUP when given (else in the caller's).
nginx_start() {
	local port=$1 token=$2 cg=${3:-} name=${4:-nginx}
	mkdir -p "$TMP/$name/logs"
	cat >"$TMP/$name/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $TMP/$name/nginx.pid;
error_log $TMP/$name/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/$name/body;
    proxy_temp_path $TMP/$name/proxy;
    fastcgi_temp_path $TMP/$name/fastcgi;
    uwsgi_temp_path $TMP/$name/uwsgi;
    scgi_temp_path $TMP/$name/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    server {
        listen 127.0.0.1:$port backlog=4096;
        default_type text/plain;
        location / { return 200 "$token\n"; }
        # a service that works for its answer: a document under w/ (when
        # the caller put one there), gzipped per request
        location /w/ {
            root $TMP/$name;
            gzip on;
            gzip_comp_level 6;
            gzip_min_length 1;
            gzip_types text/plain;
        }
    }
}
EOF
	if [ -n "$cg" ]; then
		in_cgroup "$cg" nginx -e "$TMP/$name/logs/error.log" -p "$TMP/$name" \
			-c "$TMP/$name/nginx.conf" >"$TMP/$name/logs/stdout" 2>&1 &
	else
		nginx -e "$TMP/$name/logs/error.log" -p "$TMP/$name" -c "$TMP/$name/nginx.conf" \
			>"$TMP/$name/logs/stdout" 2>&1 &
	fi
	bg $!
}

# nginx_wait URL TOKEN [NAME]: until nginx_start's nginx (under $TMP/NAME,
# default nginx) answers URL with TOKEN; dies with its error log after 5 s.
nginx_wait() {
	local url=$1 token=$2 name=${3:-nginx} i body=''
	for ((i = 0; i < 50; i++)); do
		body=$(curl -s -m 2 "$url") && [ "$body" = "$token" ] && return 0
		sleep 0.1
	done
	die "nginx on $url did not answer its token: $(tail -n 3 "$TMP/$name/logs/error.log")"
}

# agent_start CONFIG [agent options...]: an agent attached to $CG only, pins
# in a private directory, API on a free port; waits until /readyz answers
# and sets AGENT_READY_MS to how long that took (polled every 50 ms).
agent_start() {
	local config=$1 i t0
	shift
	PIN=/sys/fs/bpf/bpfmesh-bench-$BENCH_NAME-$$
	AGENT_LISTEN=127.0.0.1:$(free_port 19440 19499)
	AGENT_LOG=$TMP/agent.log
	t0=$(now_ns)
	"$BPFMESH" agent --config "$config" --cgroup "$CG" --bpffs "$PIN" \
		--listen "$AGENT_LISTEN" "$@" >>"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	for ((i = 0; i < 1200; i++)); do
		# our agent's /readyz: another benchmark's agent may have taken
		# the port between free_port and the bind
		if curl -sf -o /dev/null "http://$AGENT_LISTEN/readyz" &&
			ss -Hltnp "sport = :${AGENT_LISTEN##*:}" | grep -q "pid=$AGENT_PID,"; then
			AGENT_READY_MS=$((($(now_ns) - t0) / 1000000))
			return 0
		fi
		kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited: $(tail -n 3 "$AGENT_LOG")"
		sleep 0.05
	done
	die "the agent is not ready after 60 s"
}

# Stops the agent and removes its attachments and pins.
agent_stop() {
	[ -n "$AGENT_PID" ] && stop_pid "$AGENT_PID" 10
	AGENT_PID=''
	if [ -n "$PIN" ]; then
		"$BPFMESH" detach --bpffs "$PIN" ${CG:+--cgroup "$CG"} >/dev/null 2>&1 ||
			echo "$BENCH_NAME: bpfmesh detach --bpffs $PIN failed" >&2
		[ -e "$PIN" ] && rm -rf "$PIN"
	fi
}

# The median of the numbers on stdin, one per line.
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (!NR) { print "nan"; exit }
		print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# a / b with $3 decimals (default 2), "-" when b is 0 or not a number.
ratio() {
	awk -v a="$1" -v b="$2" -v d="${3:-2}" \
		'BEGIN { if (b + 0 == 0) print "-"; else printf "%.*f\n", d, a / b }'
}

# TSV on stdin as an indented table with aligned columns.
table() {
	awk -F'\t' '
	{
		for (i = 1; i <= NF; i++) {
			cell[NR, i] = $i
			if (length($i) > w[i])
				w[i] = length($i)
		}
		if (NF > nf)
			nf = NF
	}
	END {
		for (r = 1; r <= NR; r++) {
			line = " "
			for (i = 1; i <= nf; i++)
				line = line " " sprintf(i < nf ? "%-" w[i] "s " : "%s", cell[r, i])
			print line
		}
	}'
}

now_ns() { date +%s%N; }

# gen_services DIR PREFIX SERVICES EPS VIP_OCTET EP_OCTET POLICIES: a generated
# configuration in files of 100 services, each with EPS endpoints (weights
# 1-3), the POLICIES (a list) in turn; addresses 127.VIP_OCTET+.x.y and
# 127.EP_OCTET+.x.y, which nothing connects to.
gen_services() {
	mkdir -p "$1"
	awk -v dir="$1" -v prefix="$2" -v nsvc="$3" -v neps="$4" -v vb="$5" -v eb="$6" \
		-v policies="$7" 'BEGIN {
		npol = split(policies, pol, " ")
		for (s = 0; s < nsvc; s++) {
			file = sprintf("%s/%s-%03d.yaml", dir, prefix, int(s / 100))
			printf "---\napiVersion: bpfmesh.io/v1alpha1\nkind: Service\n" > file
			printf "metadata: {name: %s-%05d}\nspec:\n", prefix, s > file
			printf "  addresses: [\"127.%d.%d.%d\"]\n", vb + int(s / 62500),
				int(s / 250) % 250, s % 250 + 1 > file
			printf "  ports: [{name: http, port: 80, targetPort: 8080}]\n" > file
			printf "  loadBalancer: {policy: %s}\n  endpoints:\n", pol[s % npol + 1] > file
			for (e = 0; e < neps; e++) {
				i = s * neps + e
				printf "  - {address: \"127.%d.%d.%d\", weight: %d}\n", eb + int(i / 65536),
					int(i / 256) % 256, i % 256, 1 + i % 3 > file
			}
		}
	}'
}
