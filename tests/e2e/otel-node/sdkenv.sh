# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# sdkenv.sh: what the tests with a real OpenTelemetry SDK share (sourced
# after lib.sh by test_otel_sdk*.sh): the npm packages of this folder
# installed or the test skipped, starting services in a workload's cgroup,
# driving requests from curl in the client cgroup and collecting the spans
# the one otlp_receiver got ($TMP/spans.jsonl).
#
# The npm packages come from package-lock.json: `make deps` installs them
# (npm ci), and so does this when they are missing; when they cannot be
# installed the test is skipped, saying why (under CI=true it fails: CI
# must have them).
NODE_DIR=$ROOT/tests/e2e/otel-node
sdk_installed() { [ -d "$NODE_DIR/node_modules/@opentelemetry/sdk-trace-node" ]; }
if command -v node >/dev/null && command -v npm >/dev/null && ! sdk_installed; then
	log "installing the npm packages of tests/e2e/otel-node (npm ci)"
	(cd "$NODE_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || true
fi
if ! command -v node >/dev/null || ! sdk_installed; then
	why="Node.js or the npm packages of tests/e2e/otel-node could not be installed (make deps)"
	if [ "${CI:-}" = true ]; then fail "$why"; finish; fi
	log "SKIP: $why"
	exit 0
fi

# in_group CGROUP CMD...: in the test's namespace and that workload's cgroup
in_group() {
	local g=$1; shift
	( echo $BASHPID > "$CG/$g/cgroup.procs" && exec nsenter --net="/run/netns/$NS" "$@" )
}

# run_requests PREFIX N PARALLEL [CURL ARGS...]: N requests PREFIXi from curl
# in the client cgroup to A's service address ($A_ADDR), PARALLEL at a time,
# one connection each; their status codes in $TMP/codes.PREFIX (slashes as
# _), and all of them 200 checked (EXPECT_CODE to expect another)
A_ADDR=${A_ADDR:-127.100.2.1}
run_requests() {
	local prefix=$1 n=$2 par=$3; shift 3
	local out="$TMP/codes${prefix//\//_}"
	seq "$n" | xargs -P "$par" -I{} bash -c 'echo $BASHPID > "$0/cgroup.procs" &&
		exec nsenter --net="$1" curl -s -o /dev/null -w "%{http_code}\n" "${@:4}" "http://$2$3{}"' \
		"$CG/client" "/run/netns/$NS" "$A_ADDR" "$prefix" "$@" > "$out"
	expect_eq "requests $prefix* answered ${EXPECT_CODE:-200}" "$n" "$(grep -c "^${EXPECT_CODE:-200}\$" "$out")"
}
# wait_spans PREFIX N: until B's N SERVER spans of PREFIX* came (bpfmesh's
# come last: held for late partners, then batched)
b_spans() { grep '"scope":{"name":"bpfmesh"' "$TMP/spans.jsonl" | grep '"kind":2' |
	grep -c "\"url.path\":\"$1"; }
wait_spans() { for _ in $(seq 120); do [ "$(b_spans "$1")" -ge "$2" ] && break; sleep 0.25; done; }
traces() { python3 "$NODE_DIR/traces.py" "$TMP/spans.jsonl" "$@"; }
val() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
