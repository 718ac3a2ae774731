#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end tests on the UBSan build (`make test-e2e-ubsan` builds it in
# build-ubsan): every agent, CLI call and test helper of tests/e2e is that
# build's. Not every test: the ones listed below, whose agent code paths are
# C-heavy parsing and state (about half the suite's time); the plain
# end-to-end stage runs all of them, the unit tests run under both
# sanitizers and the fuzzers cover the parsers. E2E_UBSAN_ALL=1 runs every
# test. A report stops the process at once (halt_on_error, and the code is
# built with -fno-sanitize-recover), which most tests notice; each report is
# also written to build-ubsan/ubsan/, so a report in a process whose exit no
# check looks at (a CLI call whose output is ignored, an agent stopped by the
# test) still fails the run, counted as one more failed test.
set -u
cd "$(dirname "$0")/../.."
dir=$PWD/build-ubsan/ubsan
rm -rf "$dir"
mkdir -p "$dir"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$dir/report"
# why each is here; what is left out drives mostly the kernel's side
# (balancing, policy, outliers, netns, pins) or little C of the agent's
subset=(
	test_tracing.sh            # HTTP/1 records -> spans, parent/child, OTLP encode
	test_tracing_semconv.sh    # span attributes, error.type, sampling flags, routes
	test_tracing_export.sh     # traceparent parsing, exporter queue, retries, drops
	test_tracing_long_head.sh  # heads past the kernel's search: drops counted, spans
	test_h2.sh                 # HTTP/2 frames, HPACK, streams in flight, h2c upgrade
	test_grpc.sh               # gRPC over HTTP/2: trailers, status, rpc.* attributes
	test_kube_client.sh        # agent/kube: JSON lists and watches, paging, 410, TLS
	test_kube_lb.sh            # Services and EndpointSlices -> desired state, relists
	test_kube_pods.sh          # pods -> cgroup paths and identity
	test_reload.sh             # config diff and apply under traffic
	test_config_watch.sh       # inotify on a moving config path
	test_validate.sh           # `bpfmesh validate` on kubectl's YAML: names, places
	test_crds.sh               # the CRD schemas against the config parser
	test_limits.sh             # map sizing, a config refused whole
	test_api_limits.sh         # the API under a connection flood: limits, log rate
	test_cli_api.sh            # API answers, malformed requests, the CLI's JSON
	test_metrics.sh            # histograms, Prometheus text, promtool
	test_lb_churn.sh           # LB churn: --max-sockets sizing, full maps, refusals
)
tests=()
if [ -z "${E2E_UBSAN_ALL:-}" ]; then
	for t in "${subset[@]}"; do
		# a renamed test must not silently leave the list
		if [ ! -f "tests/e2e/$t" ]; then
			echo "e2e-ubsan: tests/e2e/$t is listed but missing"
			echo "0 1" >>"${TEST_COUNTS:-build/test-counts}"
			exit 1
		fi
		tests+=("tests/e2e/$t")
	done
	# E2E_ONLY naming only tests of the plain pass: nothing to do here
	if [ -n "${E2E_ONLY:-}" ] && ! printf '%s\n' "${tests[@]}" | grep -qF -- "$E2E_ONLY"; then
		echo "e2e-ubsan: no test of the list matches E2E_ONLY=$E2E_ONLY (E2E_UBSAN_ALL=1 runs all)"
		exit 0
	fi
fi
BUILD=build-ubsan tests/e2e/run.sh "${tests[@]}"
rc=$?
reports=$(find "$dir" -type f | sort)
if [ -n "$reports" ]; then
	echo "e2e-ubsan: $(echo "$reports" | wc -l) UBSan report(s):"
	for r in $reports; do
		echo "--- $r"
		head -20 "$r"
	done
	echo "0 1" >>"${TEST_COUNTS:-build/test-counts}"
	rc=1
fi
exit $rc
